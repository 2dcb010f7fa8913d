"""The project's URLs plus /bench/ping/: the trivial signed-in view (session and user loaded,
nothing else) that page latencies are divided by."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from portal.urls import urlpatterns as portal_patterns


@login_required
def ping(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/ping/", ping, name="bench_ping"), *portal_patterns]
