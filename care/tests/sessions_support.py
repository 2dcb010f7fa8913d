"""Shared pieces for the sessions, agenda and requests tests."""

from datetime import timedelta

from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from care.models import Client, Notification
from portal.testing import TherapySessionFactory


def browser_for(membership) -> HttpClient:
    """A separate browser with its own session, signed in as the membership's user."""
    http = HttpClient()
    http.force_login(membership.user)
    return http


def rename(membership, first, last):
    User.objects.filter(pk=membership.user_id).update(first_name=first, last_name=last)
    membership.user.refresh_from_db()


def named_world(world_a):
    """world_a with fixed names (so page and e-mail text can be checked) and browsers per person.

    Each test module wraps it in its own `world` fixture.
    """
    rename(world_a.admin, "Ada", "Adminton")
    rename(world_a.clinician, "Cleo", "Carefield")
    rename(world_a.clinician2, "Dev", "Deepwater")
    for client, (first, last) in [
        (world_a.client, ("Kim", "Solo")),
        (world_a.other_client, ("Otto", "Elsewhere")),
        (world_a.shared_client, ("Sia", "Together")),
    ]:
        Client.unscoped.filter(pk=client.pk).update(first_name=first, last_name=last)
        client.refresh_from_db()
        rename(client.membership, first, last)
    world_a.me = browser_for(world_a.client.membership)  # the client, Kim
    world_a.cleo = browser_for(world_a.clinician)  # Kim's clinician
    world_a.dev = browser_for(world_a.clinician2)  # not Kim's clinician
    world_a.ada = browser_for(world_a.admin)
    world_a.otto = browser_for(world_a.other_client.membership)  # another client
    return world_a


def staff_url(world, client, suffix=""):
    return world.url(f"clients/{client.pk}/{suffix}")


def session_of(world, client=None, *, days=7, status="scheduled", clinician=None, **kwargs):
    """A session `days` from now (negative: in the past), written directly like a fixture."""
    client = client or world.client
    return TherapySessionFactory(
        practice=world.practice,
        client=client,
        clinician=clinician or world.clinician,
        starts_at=timezone.now() + timedelta(days=days),
        status=status,
        **kwargs,
    )


def notifications_for(membership, **filters) -> list[Notification]:
    return list(Notification.unscoped.filter(recipient=membership, **filters))


def count_queries(http, url) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = http.get(url)
    assert response.status_code == 200
    return len(queries), response


def body(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []
