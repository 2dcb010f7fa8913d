"""Test-only urlconf: the real URLs plus views that deliberately skip the access helpers.

test_isolation.test_the_checker_catches_a_leak runs the isolation checker over this urlconf to
show that it reports these views. Never include this module from portal.urls.
"""

from django.http import HttpResponse, HttpResponseNotFound
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from care.models import Client
from portal.urls import urlpatterns as real_urlpatterns


def leaky_client(request, client_id):
    # The bug on purpose: `unscoped` and no access_client(), so any practice's client shows.
    client = Client.unscoped.get(pk=client_id)
    return HttpResponse(f"<h1>{client.full_name}</h1>")


@require_POST
def leaky_discharge(request, client_id):
    # Writes before checking, then answers like a refusal: only a snapshot can tell.
    Client.unscoped.filter(pk=client_id).update(discharged_at=timezone.now())
    return HttpResponseNotFound("Not found")


def leaky_widget(request, widget_id):
    return HttpResponse("a keyword the isolation registry does not know")


urlpatterns = [
    path("p/<slug:practice_slug>/leak/<int:client_id>/", leaky_client, name="leaky_client"),
    path(
        "p/<slug:practice_slug>/leak/<int:client_id>/discharge/",
        leaky_discharge,
        name="leaky_discharge",
    ),
    path("p/<slug:practice_slug>/widgets/<int:widget_id>/", leaky_widget, name="leaky_widget"),
    *real_urlpatterns,
]
