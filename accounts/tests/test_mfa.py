"""MFA for staff: a practice requires it by default; staff without a second factor reach no
practice page until they set one up; clients are not forced; the admin signs in via allauth."""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django.urls import reverse

from accounts.mfa import current_totp_code, has_second_factor, must_enroll
from accounts.models import Membership, User
from portal.testing import PASSWORD, MembershipFactory, UserFactory, enroll_totp, totp_code
from portal.tests.test_isolation import KWARG_REGISTRY, prepare_worlds, tenant_urls

ACTIVATE = "/accounts/2fa/totp/activate/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate limits and used-code markers
    yield
    cache.clear()


def without_mfa(membership):
    Authenticator.objects.filter(user=membership.user).delete()
    return membership


def every_practice_page(world):
    """(label, path) for every GET-able tenant URL, with world's own ids."""
    for url in tenant_urls():
        if any(k not in KWARG_REGISTRY for k in url.kwargs):
            continue  # test_isolation fails for an unregistered keyword; no need to twice
        kwargs = {k: KWARG_REGISTRY[k].value(world) for k in url.kwargs}
        yield url.label, reverse(url.name, kwargs={"practice_slug": world.practice.slug, **kwargs})


# --- The acceptance: no practice page without MFA, every page with it --------------------------


@pytest.mark.parametrize("role", ["admin", "clinician"])
def test_staff_without_mfa_reach_no_practice_page(world_a, world_b, role):
    prepare_worlds(world_a, world_b)
    member = without_mfa(getattr(world_a, role))
    http = HttpClient()
    http.force_login(member.user)

    reached = {}
    pages = list(every_practice_page(world_a))
    assert len(pages) > 40  # the walker found the practice's pages
    for label, path in pages:
        for method in (http.get, http.post):
            response = method(path)
            if not (response.status_code == 302 and response["Location"] == ACTIVATE):
                reached[f"{method.__name__.upper()} {label}"] = response.status_code
    assert reached == {}


def test_staff_with_totp_reach_home_caseload_and_a_client(world_a, as_member):
    http = as_member(world_a.clinician)
    assert has_second_factor(world_a.clinician.user)

    pages = [world_a.url(), world_a.url("clients/"), world_a.url(f"clients/{world_a.client.pk}/")]
    for path in pages:
        assert http.get(path).status_code == 200, path


def test_the_redirect_explains_itself_and_setting_up_totp_opens_the_practice(world_a):
    """The whole way through the real pages: password, the setup page, a code, the practice."""
    member = without_mfa(world_a.clinician)
    http = HttpClient()
    http.post("/accounts/login/", {"login": member.user.email, "password": PASSWORD})
    assert http.session.get("_auth_user_id") == str(member.user.pk)  # no factor yet: no MFA step

    held = http.get(world_a.url(), follow=True)
    assert held.redirect_chain == [(ACTIVATE, 302)]
    body = held.content.decode()
    assert "asks staff to use two-factor authentication" in body
    secret = http.session[SECRET_SESSION_KEY]
    assert secret in body  # shown for manual entry beside the QR code

    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))  # what the app shows
    activated = http.post(ACTIVATE, {"code": code})

    assert activated.status_code == 302
    assert activated["Location"] == "/accounts/2fa/recovery-codes/"
    types = set(Authenticator.objects.filter(user=member.user).values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    assert http.get("/accounts/2fa/recovery-codes/").status_code == 200
    assert http.get(world_a.url()).status_code == 200


def test_clients_are_not_forced(world_a, as_member):
    client_member = world_a.client.membership
    assert not has_second_factor(client_member.user)

    assert as_member(client_member).get(world_a.url()).status_code == 200
    assert not must_enroll(client_member)


def test_a_practice_can_turn_the_requirement_off(world_a, as_member):
    member = without_mfa(world_a.clinician)
    world_a.practice.require_staff_mfa = False
    world_a.practice.save()

    assert as_member(member).get(world_a.url()).status_code == 200


def test_outsiders_still_get_the_uniform_404_not_the_mfa_redirect(world_a, world_b, as_member):
    member = without_mfa(world_a.clinician)

    assert as_member(member).get(world_b.url()).status_code == 404
    assert as_member(member).get("/p/no-such-practice/").status_code == 404


def test_a_security_key_counts_recovery_codes_alone_do_not(world_a):
    member = without_mfa(world_a.clinician)
    Authenticator.objects.create(user=member.user, type=Authenticator.Type.RECOVERY_CODES, data={})
    assert must_enroll(member)

    Authenticator.objects.create(user=member.user, type=Authenticator.Type.WEBAUTHN, data={})
    assert not must_enroll(member)


def test_factories_give_staff_totp_unless_told_not_to(world_a):
    assert Authenticator.objects.filter(
        user=world_a.admin.user, type=Authenticator.Type.TOTP
    ).exists()
    plain = MembershipFactory(practice=world_a.practice, mfa=False)
    assert not has_second_factor(plain.user)
    assert not has_second_factor(world_a.client.membership.user)


def test_sign_in_asks_staff_for_their_code_and_refuses_a_wrong_one(world_a):
    user = world_a.admin.user
    http = HttpClient()
    step = http.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert step["Location"] == "/accounts/2fa/authenticate/"

    wrong_code = "000000" if totp_code(user) != "000000" else "111111"
    wrong = http.post("/accounts/2fa/authenticate/", {"code": wrong_code})
    assert wrong.status_code == 200
    assert http.session.get("_auth_user_id") is None
    assert http.get(world_a.url()).status_code == 302  # still signed out

    http.post("/accounts/2fa/authenticate/", {"code": totp_code(user)})
    assert http.session.get("_auth_user_id") == str(user.pk)
    assert http.get(world_a.url()).status_code == 200


def test_webauthn_is_offered_beside_the_app(world_a, as_member):
    page = as_member(world_a.clinician).get("/accounts/2fa/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "/accounts/2fa/webauthn/" in body
    assert "/accounts/2fa/recovery-codes/" in body


# --- The Django admin goes through allauth, and needs a second factor too -------------------


def test_admin_sign_in_goes_through_allauth(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_operator_without_mfa_is_sent_to_set_it_up(client, db):
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)

    held = client.get("/admin/")
    assert held.status_code == 302 and held["Location"] == ACTIVATE

    enroll_totp(operator)
    assert client.get("/admin/").status_code == 200


def test_signed_in_non_operator_is_refused_at_the_admin_sign_in(client, world_a):
    client.force_login(world_a.admin.user)  # a practice admin is not an operator
    assert client.get("/admin/login/").status_code == 403


# --- The demo ----------------------------------------------------------------------------------


def test_seed_demo_enrolls_staff_and_demo_totp_prints_a_working_code(settings, capsys, db):
    settings.DEBUG = True
    call_command("seed_demo")
    admin = User.objects.get(email="admin@northside.test")
    client_user = User.objects.get(email="client1@northside.test")
    assert has_second_factor(admin) and not has_second_factor(client_user)
    secret_before = Authenticator.objects.get(user=admin, type="totp").data["secret"]
    call_command("seed_demo")  # a re-seed keeps the same secret (the app keeps working)
    assert Authenticator.objects.get(user=admin, type="totp").data["secret"] == secret_before

    capsys.readouterr()
    call_command("demo_totp", "Admin@Northside.test")
    printed = capsys.readouterr().out.strip()
    assert printed == current_totp_code(admin)

    http = HttpClient()
    http.post("/accounts/login/", {"login": admin.email, "password": "rapport-demo"})
    http.post("/accounts/2fa/authenticate/", {"code": printed})
    assert http.session.get("_auth_user_id") == str(admin.pk)
    assert http.get("/p/northside/").status_code == 200


def test_demo_totp_refuses_with_debug_off(settings, world_a):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("demo_totp", world_a.admin.user.email)


def test_demo_totp_explains_a_user_without_an_app(settings, world_a):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="no authenticator app"):
        call_command("demo_totp", world_a.client.membership.user.email)
    assert Membership.Role.CLIENT == world_a.client.membership.role


def test_adding_a_security_key_page_works_under_the_csp(world_a):
    """WebAuthn (security keys, passkeys) as a second factor: the page loads its scripts from
    our origin only, so the CSP allows it (the browser ceremony itself is for a real browser)."""
    user = world_a.client.membership.user  # anyone may add one; staff need one of the two
    http = HttpClient()
    http.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    page = http.get("/accounts/2fa/webauthn/add/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "mfa/js/webauthn.js" in body
    for tag in body.split("<script")[1:]:
        opening = tag.split(">", 1)[0]
        assert "src=" in opening or 'type="application/json"' in opening, opening


def test_a_code_from_the_previous_half_minute_works_once(world_a):
    """A phone whose clock is a little behind still signs in; a replayed code does not."""
    user = world_a.clinician.user
    late_code = current_totp_code(user, at=time.time() - 30)
    first, second = HttpClient(), HttpClient()
    for http in (first, second):
        http.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
        http.post("/accounts/2fa/authenticate/", {"code": late_code})

    assert first.session.get("_auth_user_id") == str(user.pk)
    assert second.session.get("_auth_user_id") is None


# --- The practice setting, in the practice ----------------------------------------------------


def test_an_admin_turns_the_requirement_off_and_on_for_their_practice(world_a, world_b, as_member):
    held_back = without_mfa(world_a.clinician)
    admin = as_member(world_a.admin)
    page = admin.get(world_a.url("staff/security/"))
    assert page.status_code == 200
    body = page.content.decode()
    assert held_back.display_name in body  # listed as without a second factor
    assert world_a.clinician2.display_name not in body

    response = admin.post(world_a.url("staff/security/"), {})  # unticked: off
    assert response.status_code == 302
    world_a.practice.refresh_from_db()
    world_b.practice.refresh_from_db()
    assert world_a.practice.require_staff_mfa is False
    assert world_b.practice.require_staff_mfa is True  # only their own practice
    other = HttpClient()
    other.force_login(held_back.user)
    assert other.get(world_a.url()).status_code == 200

    admin.post(world_a.url("staff/security/"), {"require_staff_mfa": "on"})
    world_a.practice.refresh_from_db()
    assert world_a.practice.require_staff_mfa is True
    assert other.get(world_a.url())["Location"] == ACTIVATE
    # Both changes are in the audit log, with the new value and no more.
    from portal.audit.models import AuditEvent

    changes = AuditEvent.unscoped.filter(action="security_setting_changed").order_by("pk")
    assert [(e.practice_id, e.detail) for e in changes] == [
        (world_a.practice.pk, {"require_staff_mfa": False}),
        (world_a.practice.pk, {"require_staff_mfa": True}),
    ]


def test_only_admins_reach_the_setting(world_a, as_member):
    for member in (world_a.clinician, world_a.client.membership):
        http = as_member(member)
        assert http.get(world_a.url("staff/security/")).status_code == 404
        assert http.post(world_a.url("staff/security/"), {}).status_code == 404
    world_a.practice.refresh_from_db()
    assert world_a.practice.require_staff_mfa is True
