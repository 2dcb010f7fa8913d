"""Hardening (issue 6, part 5): security headers and CSP, production transport settings, the
deploy check, rate limits on sign-in, password reset, invitation and check-in links, and error
pages that reveal nothing."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import Client as HttpClient
from django.test import override_settings
from django.urls import path

from accounts.models import Invitation
from feedback.models import CheckinResponse
from feedback.testing import form_answers, make_checkin
from feedback.tests.checkin_support import checkin_world
from portal import ratelimit
from portal import urls as project_urls
from portal.testing import PASSWORD, InvitationFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def production(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """Run manage.py (or Python code) with production settings: DEBUG off, secrets set."""
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    env |= {
        "DEBUG": "0", "SECRET_KEY": "s" * 24 + "-production-like-secret-key-" + "k" * 24,
        "ALLOWED_HOSTS": "rapport.example.org", "EMAIL_HOST": "smtp.example.org",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    command = [sys.executable, "-c", code] if code else [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


# --- Headers and CSP --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "clinician"])
def test_every_page_sends_the_security_headers(world_a, as_member, client, who):
    http = as_member(world_a.clinician) if who == "clinician" else client
    response = http.get(world_a.url() if who == "clinician" else "/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = dict(
        (part.strip().split(" ", 1) + [""])[:2]
        for part in response["Content-Security-Policy"].split(";")
    )
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    # The nonce is added when a page uses it; scripts are ours or carry it, nothing inline.
    assert csp["script-src"] == "'self'" or csp["script-src"].startswith("'self' 'nonce-")
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"


def test_pages_carry_no_inline_script_without_the_nonce(world_a, as_member):
    http = as_member(world_a.admin)
    pages = ("/", world_a.url(), world_a.url("clients/"), "/accounts/2fa/", "/accounts/sessions/")
    for page in pages:
        response = http.get(page, follow=True)
        body = response.content.decode()
        nonce = getattr(response.wsgi_request, "_csp_nonce", None)
        for tag in body.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            executable = 'type="application/json"' not in opening
            if executable and "src=" not in opening:
                assert nonce and f'nonce="{nonce}"' in opening, (page, opening)


def test_production_settings_use_https_only_cookies_and_hsts():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.ACCOUNT_DEFAULT_HTTP_PROTOCOL, s.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN)"
    )
    result = production(code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "31536000", "True", "True", "True", "True", "True", "https", "False"
    ]


def test_deploy_check_is_clean_at_warning_level():
    result = production("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- Rate limits ------------------------------------------------------------------------------


@pytest.fixture
def rate_clock(monkeypatch):
    """The link rate limits count in fixed windows of the clock. A test on the real clock fails
    whenever its requests straddle a window's edge (the count starts again), so these tests
    set the clock themselves, and move it on to show that the window passes."""
    clock = SimpleNamespace(now=1_800_000_000.0)  # on a window's edge for every window in use
    clock.advance = lambda seconds: setattr(clock, "now", clock.now + seconds)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: clock.now))
    return clock


def test_sign_in_is_rate_limited_per_address(client, world_a, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "3/m/ip"}
    data = {"login": world_a.client.membership.user.email, "password": PASSWORD}
    for _ in range(3):
        client.post("/accounts/login/", data)
        client.post("/accounts/logout/")

    limited = client.post("/accounts/login/", data)

    assert limited.status_code == 429
    assert "Please wait a moment" in limited.content.decode()
    assert client.session.get("_auth_user_id") is None


def test_password_reset_is_rate_limited(client, world_a, settings, mailoutbox):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reset_password": "2/m/ip"}
    for n in range(2):
        client.post("/accounts/password/reset/", {"email": f"nobody{n}@example.test"})

    limited = client.post("/accounts/password/reset/", {"email": world_a.admin.user.email})

    assert limited.status_code == 429
    assert not [m for m in mailoutbox if world_a.admin.user.email in m.to]


def test_invitation_links_are_rate_limited_and_lose_nothing(world_a, settings, rate_clock):
    settings.RAPPORT_RATE_LIMITS = {**settings.RAPPORT_RATE_LIMITS, "accept_invitation": "3/1m"}
    invitation = InvitationFactory(practice=world_a.practice)
    url = f"/invite/{invitation.token}/"
    visitor = HttpClient()
    assert [visitor.get(url).status_code for _ in range(3)] == [200, 200, 200]

    # Guessing tokens counts too: the limit is per address, not per link.
    limited = visitor.post("/invite/not-a-real-token/", {"first_name": "X"})

    assert limited.status_code == 429
    body = limited.content.decode()
    assert "Nothing was saved or lost, and your link still works" in body
    assert world_a.practice.name not in body
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.PENDING
    rate_clock.advance(59)
    assert visitor.get(url).status_code == 429
    rate_clock.advance(1)  # the window has passed
    assert visitor.get(url).status_code == 200


def test_checkin_links_are_rate_limited_and_lose_nothing(world_a, settings, rate_clock):
    settings.RAPPORT_RATE_LIMITS = {**settings.RAPPORT_RATE_LIMITS, "checkin_link": "2/1m"}
    world = checkin_world(world_a)
    checkin = make_checkin(practice=world.practice, client=world.client, clinician=world.clinician)
    url = f"/c/{checkin.token}/"
    visitor = HttpClient()
    assert [visitor.get(url).status_code for _ in range(2)] == [200, 200]

    limited = visitor.post(url, form_answers())

    assert limited.status_code == 429
    assert CheckinResponse.unscoped.count() == 0
    checkin.refresh_from_db()
    assert checkin.status != "completed"
    rate_clock.advance(60)
    done = visitor.post(url, form_answers())
    assert done.status_code == 200 and CheckinResponse.unscoped.count() == 1


def test_a_post_without_the_csrf_token_is_refused_and_stores_nothing(world_a):
    world = checkin_world(world_a)
    checkin = make_checkin(practice=world.practice, client=world.client, clinician=world.clinician)
    url = f"/c/{checkin.token}/"
    # The test client skips CSRF checks unless asked; a forged cross-site post has no token.
    forged = HttpClient(enforce_csrf_checks=True).post(url, form_answers())

    assert forged.status_code == 403
    assert CheckinResponse.unscoped.count() == 0
    visitor = HttpClient(enforce_csrf_checks=True)
    token = visitor.get(url).context["csrf_token"]
    done = visitor.post(url, {**form_answers(), "csrfmiddlewaretoken": str(token)})
    assert done.status_code == 200 and CheckinResponse.unscoped.count() == 1


def test_other_addresses_are_not_held_back(world_a, settings, rate_clock):
    settings.RAPPORT_RATE_LIMITS = {**settings.RAPPORT_RATE_LIMITS, "accept_invitation": "1/1m"}
    invitation = InvitationFactory(practice=world_a.practice)
    url = f"/invite/{invitation.token}/"
    assert HttpClient(REMOTE_ADDR="10.0.0.1").get(url).status_code == 200
    assert HttpClient(REMOTE_ADDR="10.0.0.1").get(url).status_code == 429
    assert HttpClient(REMOTE_ADDR="10.0.0.2").get(url).status_code == 200


# --- Error pages ------------------------------------------------------------------------------


def _boom(request):
    raise RuntimeError("secret-internal-detail in /srv/rapport/portal/views.py")


urlpatterns = [path("boom/", _boom), *project_urls.urlpatterns]


@override_settings(DEBUG=False)
def test_404_reveals_nothing(client, db):
    response = client.get("/no-such-page/<b>x</b>")

    assert response.status_code == 404
    body = response.content.decode()
    assert "We couldn't find that page" in body
    for leak in ("no-such-page", "URLconf", "Traceback", "urlpatterns", "<b>x</b>"):
        assert leak not in body


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_500_reveals_nothing(db):
    response = HttpClient(raise_request_exception=False).get("/boom/")

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    for leak in ("secret-internal-detail", "RuntimeError", "Traceback", "/srv/rapport"):
        assert leak not in body
    assert "<script" not in body and "style=" not in body  # fine under the CSP
