"""Test-only urlconf: the real URLs plus a tenant view that forgets to scope its query.

portal/rls/tests/test_request.py shows that under the app role the database itself keeps the
other practice's rows out of it. Never include this module from portal.urls.
"""

from django.http import JsonResponse
from django.urls import path

from care.models import Client
from portal.urls import urlpatterns as real_urlpatterns


def every_client(request):
    # The bug on purpose: `unscoped` and no filter, so the ORM asks for every practice's rows.
    rows = Client.unscoped.order_by("pk").values_list("pk", "practice_id", "last_name")
    return JsonResponse({"clients": [list(row) for row in rows]})


urlpatterns = [
    path("p/<slug:practice_slug>/rls-leak/clients/", every_client, name="rls_leaky_clients"),
    *real_urlpatterns,
]
