"""Sessions: idle sign-out (staff 30 min, clients 60 min), an absolute lifetime, the list of
one's sessions with "sign out everywhere else", and deactivation ending a person's sessions.

Time is moved by editing the session's timestamps, never by sleeping."""

import time

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client as HttpClient

from accounts import sessions
from accounts.models import Membership
from portal.testing import PASSWORD, MembershipFactory, totp_code

MINUTE = 60


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def signed_in(membership) -> HttpClient:
    http = HttpClient()
    http.force_login(membership.user)
    return http


def age(http, *, idle_minutes=0, started_hours_ago=None):
    """Pretend the last request was `idle_minutes` ago (and the sign-in that long ago)."""
    session = http.session
    now = time.time()
    session[sessions.LAST_SEEN_AT] = now - idle_minutes * MINUTE
    session[sessions.STARTED_AT] = (
        now - started_hours_ago * 3600 if started_hours_ago is not None
        else session[sessions.LAST_SEEN_AT]
    )
    session.save()


def user_id(http):
    return http.session.get("_auth_user_id")


def first_visit(http, world):
    """A page two minutes after signing in: force_login has no real request, so its session
    is listed (an allauth UserSession row) from the first once-a-minute refresh on."""
    assert http.get(world.url()).status_code == 200
    age(http, idle_minutes=2)
    assert http.get(world.url()).status_code == 200
    return http


# --- Idle sign-out ------------------------------------------------------------------------------


def test_staff_are_signed_out_after_30_idle_minutes(world_a):
    http = first_visit(signed_in(world_a.clinician), world_a)
    age(http, idle_minutes=31)

    response = http.get(world_a.url("clients/"), follow=True)

    assert response.redirect_chain[0] == (
        f"/accounts/login/?next=/p/{world_a.practice.slug}/clients/", 302
    )
    assert user_id(http) is None
    assert "signed out after 30 minutes without activity" in response.content.decode()


def test_staff_active_within_30_minutes_stay_signed_in(world_a):
    http = first_visit(signed_in(world_a.clinician), world_a)
    age(http, idle_minutes=29)

    assert http.get(world_a.url("clients/")).status_code == 200
    # ... and that request restarts the idle clock.
    assert time.time() - http.session[sessions.LAST_SEEN_AT] < 5


def test_clients_get_60_idle_minutes(world_a):
    http = first_visit(signed_in(world_a.client.membership), world_a)
    age(http, idle_minutes=45)
    assert http.get(world_a.url()).status_code == 200

    age(http, idle_minutes=61)
    response = http.get(world_a.url())
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert user_id(http) is None


def test_the_idle_limits_are_settings(world_a, settings):
    settings.RAPPORT_IDLE_TIMEOUT_CLIENT_MINUTES = 5
    http = first_visit(signed_in(world_a.client.membership), world_a)
    age(http, idle_minutes=6)

    assert http.get(world_a.url()).status_code == 302
    assert user_id(http) is None


def test_someone_with_a_staff_role_anywhere_gets_the_staff_limit(world_a, world_b):
    person = world_a.client.membership.user
    MembershipFactory(practice=world_b.practice, user=person, role=Membership.Role.CLINICIAN)

    assert sessions.idle_limit_seconds(person) == 30 * MINUTE
    assert sessions.idle_limit_seconds(world_b.client.membership.user) == 60 * MINUTE


# --- Absolute lifetime --------------------------------------------------------------------------


def test_a_session_ends_after_its_absolute_lifetime_however_active(world_a, settings):
    assert settings.RAPPORT_SESSION_MAX_AGE_HOURS == 12
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    http = first_visit(signed_in(world_a.clinician), world_a)
    age(http, idle_minutes=1, started_hours_ago=11)
    assert http.get(world_a.url()).status_code == 200

    age(http, idle_minutes=1, started_hours_ago=13)
    response = http.get(world_a.url(), follow=True)

    assert user_id(http) is None
    assert "Your session has ended" in response.content.decode()


def test_a_new_sign_in_starts_a_new_lifetime(world_a):
    http = first_visit(signed_in(world_a.admin), world_a)
    age(http, idle_minutes=1, started_hours_ago=11)
    user = world_a.admin.user
    http.post("/accounts/logout/")

    http.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    http.post("/accounts/2fa/authenticate/", {"code": totp_code(user)})
    assert http.get(world_a.url()).status_code == 200

    assert time.time() - http.session[sessions.STARTED_AT] < 5


# --- One's sessions, and signing out everywhere else ----------------------------------------


def test_sessions_page_lists_both_and_signs_out_the_other(world_a):
    laptop = first_visit(signed_in(world_a.clinician), world_a)
    phone = first_visit(signed_in(world_a.clinician), world_a)
    assert UserSession.objects.filter(user=world_a.clinician.user).count() == 2

    page = laptop.get("/accounts/sessions/")
    assert page.status_code == 200
    assert len(page.context["sessions"]) == 2
    body = page.content.decode()
    assert body.count("This session") == 1 + 1  # the column's hidden label, and the row
    assert "after 30 minutes without activity" in body
    assert 'href="/accounts/sessions/">Security</a>' in body  # reachable from every page
    assert 'href="/accounts/2fa/"' in body

    laptop.post("/accounts/sessions/")

    assert user_id(laptop) == str(world_a.clinician.user.pk)
    assert user_id(phone) is None
    assert phone.get(world_a.url()).status_code == 302
    assert UserSession.objects.filter(user=world_a.clinician.user).count() == 1


def test_a_password_sign_in_is_listed_too(world_a):
    user = world_a.client.membership.user
    http = HttpClient()
    http.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert UserSession.objects.filter(user=user).count() == 1


def test_pages_do_no_session_bookkeeping_between_refreshes(world_a, as_member):
    """Constant work per page: the sign-in did the bookkeeping, the first page adds nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http = as_member(world_a.clinician)
    with CaptureQueriesContext(connection) as first:
        assert http.get(world_a.url("clients/")).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert http.get(world_a.url("clients/")).status_code == 200
    assert len(first) == len(second)
    assert not any("usersession" in q["sql"].lower() for q in second.captured_queries)


def test_checking_a_session_between_refreshes_runs_no_query(world_a, django_assert_num_queries):
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user, request.session = world_a.clinician.user, SessionStore()
    sessions.start(request)
    assert request.session[sessions.IDLE_LIMIT] == 30 * MINUTE

    with django_assert_num_queries(0):
        assert sessions.check(request) is None


# --- Deactivation ends sessions ---------------------------------------------------------------


def test_deactivating_a_membership_ends_that_persons_sessions(
    world_a, as_member, django_capture_on_commit_callbacks
):
    victim = first_visit(signed_in(world_a.clinician2), world_a)
    key = victim.session.session_key
    admin = as_member(world_a.admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(world_a.url(f"staff/{world_a.clinician2.pk}/deactivate/"))

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(user=world_a.clinician2.user).exists()
    assert user_id(victim) is None
    assert victim.get(world_a.url()).status_code == 302  # to sign-in, not into the practice
    # The admin who did it is still signed in.
    assert admin.get(world_a.url("staff/")).status_code == 200


def test_deactivating_a_user_in_the_operator_admin_ends_their_sessions(
    world_a, django_capture_on_commit_callbacks
):
    from portal.testing import UserFactory, enroll_totp

    victim = first_visit(signed_in(world_a.clinician), world_a)
    operator = UserFactory(is_staff=True, is_superuser=True)
    enroll_totp(operator)
    ops = HttpClient()
    ops.force_login(operator)
    user = world_a.clinician.user
    form = {
        "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
        "is_staff": "", "is_superuser": "", "last_login_0": "", "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }  # is_active left out: unticked

    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(f"/admin/accounts/user/{user.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert user.is_active is False
    assert not UserSession.objects.filter(user=user).exists()
    assert user_id(victim) is None


@pytest.mark.postgres
def test_the_staff_limit_holds_under_row_level_security(world_a):
    """The idle limit reads the person's memberships across practices, outside any practice
    scope: under the app role that needs the explicit bypass, or staff would get 60 minutes."""
    from portal.rls.testing import as_app_role

    with as_app_role():
        assert sessions.idle_limit_seconds(world_a.clinician.user) == 30 * MINUTE
        assert sessions.idle_limit_seconds(world_a.client.membership.user) == 60 * MINUTE
