"""Signing in, signing up and resetting a password through allauth, inside Rapport's layout."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core import mail
from django.core.cache import cache

from accounts.models import Membership, User
from portal.testing import (
    PASSWORD,
    MembershipFactory,
    PracticeFactory,
    UserFactory,
    totp_code,
)

LOGIN_URL = "/accounts/login/"
SIGNUP_URL = "/accounts/signup/"
RESET_URL = "/accounts/password/reset/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # allauth keeps its rate-limit counters in the (process-wide, local-memory) cache.
    cache.clear()
    yield
    cache.clear()


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


MFA_URL = "/accounts/2fa/authenticate/"


def sign_in(client, email, password=PASSWORD, **extra):
    """Password, then (for users with an authenticator app, as staff have) the current code."""
    response = client.post(LOGIN_URL, {"login": email, "password": password, **extra})
    if response.status_code == 302 and response["Location"] == MFA_URL:
        user = User.objects.get(email__iexact=email)
        response = client.post(MFA_URL, {"code": totp_code(user)})
    return response


# --- Signing in ---------------------------------------------------------------------------------


def test_sign_in_with_email_and_password_lands_in_the_only_practice(client, world_a):
    user = world_a.clinician.user

    response = sign_in(client, user.email)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(user.pk)
    home = client.get("/")
    assert home.status_code == 302
    assert home["Location"] == f"/p/{world_a.practice.slug}/"
    page = client.get(home["Location"])
    assert page.status_code == 200
    assert world_a.client.full_name in page.content.decode()


def test_sign_in_follows_the_whole_redirect_chain(client, world_a):
    user = world_a.admin.user
    password_step = client.post(LOGIN_URL, {"login": user.email, "password": PASSWORD}, follow=True)
    assert [url for url, _ in password_step.redirect_chain] == [MFA_URL]
    assert signed_in_user_id(client) is None  # not before the second factor

    response = client.post(MFA_URL, {"code": totp_code(user)}, follow=True)

    assert [url for url, _ in response.redirect_chain] == ["/", f"/p/{world_a.practice.slug}/"]
    assert response.status_code == 200
    assert response.wsgi_request.membership.pk == world_a.admin.pk


def test_sign_in_ignores_the_case_of_the_email_address(client, world_a):
    user = world_a.clinician.user

    sign_in(client, user.email.upper())

    assert signed_in_user_id(client) == str(user.pk)


def test_wrong_password_does_not_sign_in(client, world_a):
    response = sign_in(client, world_a.clinician.user.email, password="not the password")

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert response.context["form"].errors


def test_repeated_wrong_passwords_are_rate_limited(client, world_a):
    email = world_a.clinician.user.email
    for _ in range(5):
        sign_in(client, email, password="not the password")

    response = sign_in(client, email)

    # allauth's login_failed limit (5 per 5 minutes per address) holds even for the right one.
    assert signed_in_user_id(client) is None
    assert response.status_code in (200, 429)
    cache.clear()
    sign_in(client, email)
    assert signed_in_user_id(client) == str(world_a.clinician.user.pk)


def test_sign_in_honours_a_safe_next_url(client, world_a):
    response = sign_in(client, world_a.admin.user.email, next=world_a.url("staff/"))

    assert response.status_code == 302
    assert response["Location"] == world_a.url("staff/")


def test_sign_in_refuses_an_off_site_next_url(client, world_a):
    response = sign_in(client, world_a.admin.user.email, next="https://evil.example/steal")

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_user_with_two_practices_sees_the_picker_listing_both(client, world_a, world_b):
    user = world_a.clinician.user
    MembershipFactory(practice=world_b.practice, user=user, role=Membership.Role.ADMIN)
    sign_in(client, user.email)

    picker = client.get("/")

    assert picker.status_code == 200
    body = picker.content.decode()
    assert "Choose a practice" in body
    assert f'href="/p/{world_a.practice.slug}/"' in body
    assert f'href="/p/{world_b.practice.slug}/"' in body
    assert world_a.practice.name in body and world_b.practice.name in body
    assert [m.practice for m in picker.context["memberships"]] == [
        world_a.practice,
        world_b.practice,
    ]
    # Both practices really open for this user.
    assert client.get(world_a.url()).status_code == 200
    assert client.get(world_b.url()).status_code == 200


def test_picker_leaves_out_inactive_memberships_and_inactive_practices(client, world_a, world_b):
    user = world_a.clinician.user
    MembershipFactory(
        practice=world_b.practice, user=user, status=Membership.Status.INACTIVE
    )
    closed = PracticeFactory(name="Closed practice", is_active=False)
    MembershipFactory(practice=closed, user=user)
    sign_in(client, user.email)

    home = client.get("/")

    # Only one practice is still open to this user, so "/" goes straight there.
    assert home.status_code == 302
    assert home["Location"] == world_a.url()
    assert client.get(world_b.url()).status_code == 404
    assert client.get(f"/p/{closed.slug}/").status_code == 404


def test_user_without_a_practice_sees_the_not_part_of_a_practice_page(client, db):
    user = UserFactory()
    sign_in(client, user.email)

    page = client.get("/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "not part of a practice yet" in body
    assert user.email in body
    assert 'href="/practices/new/"' in body


def test_anonymous_visitor_to_a_practice_is_sent_to_sign_in(client, world_a):
    response = client.get(world_a.url("clients/"))

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next=/p/{world_a.practice.slug}/clients/"


def test_anonymous_visitor_to_an_unknown_practice_is_also_sent_to_sign_in(client, db):
    # Same answer as for a real practice: the slug's existence is not revealed.
    response = client.get("/p/no-such-practice/")

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_anonymous_home_is_the_landing_page(client, db):
    page = client.get("/")

    assert page.status_code == 200
    body = page.content.decode()
    assert f'href="{LOGIN_URL}"' in body
    assert f'href="{SIGNUP_URL}"' in body


def test_sign_out_ends_the_session(client, world_a):
    sign_in(client, world_a.clinician.user.email)
    assert signed_in_user_id(client)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert signed_in_user_id(client) is None
    assert client.get(world_a.url()).status_code == 302


# --- Self-signup needs a verified address -------------------------------------------------------


def _sign_up(client, email="new.person@example.test", password=PASSWORD):
    return client.post(SIGNUP_URL, {"email": email, "password1": password, "password2": password})


def test_signup_requires_email_verification_before_sign_in(client, db):
    response = _sign_up(client)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email="new.person@example.test")
    assert signed_in_user_id(client) is None
    assert EmailAddress.objects.get(user=user).verified is False
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.test"]
    assert "/accounts/confirm-email/" in mail.outbox[0].body

    attempt = sign_in(client, "new.person@example.test")

    assert signed_in_user_id(client) is None
    assert attempt.status_code == 302
    assert attempt["Location"] == "/accounts/confirm-email/"
    assert client.get("/").status_code == 200  # the landing page: still signed out
    assert "Sign in" in client.get("/").content.decode()


def test_following_the_verification_link_allows_sign_in(client, db):
    _sign_up(client)
    link = re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body

    confirm = client.post(link.group(1))

    assert confirm.status_code == 302
    user = User.objects.get(email="new.person@example.test")
    assert EmailAddress.objects.get(user=user).verified is True
    client.logout()
    sign_in(client, "new.person@example.test")
    assert signed_in_user_id(client) == str(user.pk)
    # No practice yet: the picker explains what to do.
    assert "not part of a practice yet" in client.get("/").content.decode()


def test_signup_with_a_taken_address_does_not_create_a_second_account(client, world_a):
    email = world_a.clinician.user.email

    _sign_up(client, email=email.upper())

    assert User.objects.filter(email__iexact=email).count() == 1
    assert signed_in_user_id(client) is None


def test_signup_rejects_a_weak_password(client, db):
    response = _sign_up(client, password="password")

    assert response.status_code == 200
    assert not User.objects.filter(email="new.person@example.test").exists()
    assert mail.outbox == []


# --- Password reset -----------------------------------------------------------------------------


def test_password_reset_sends_an_email_with_a_reset_link(client, world_a):
    user = world_a.clinician.user

    response = client.post(RESET_URL, {"email": user.email})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert "/accounts/password/reset/key/" in message.body


def test_password_reset_link_sets_a_new_password(client, world_a):
    user = world_a.clinician.user
    client.post(RESET_URL, {"email": user.email})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body

    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    new_password = "a brand new long passphrase 42"
    done = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1),
        {"password1": new_password, "password2": new_password},
    )

    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert not user.check_password(PASSWORD)


def test_password_reset_for_an_unknown_address_reveals_nothing(client, db):
    response = client.post(RESET_URL, {"email": "nobody@example.test"})

    # Same redirect as for a real account (ACCOUNT_PREVENT_ENUMERATION), and no reset link.
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)


# --- Password storage ---------------------------------------------------------------------------


def test_production_password_hasher_is_argon2_first():
    import portal.settings as production_settings

    assert production_settings.PASSWORD_HASHERS[0] == (
        "django.contrib.auth.hashers.Argon2PasswordHasher"
    )
    assert "django.contrib.auth.hashers.MD5PasswordHasher" not in (
        production_settings.PASSWORD_HASHERS
    )


def test_argon2_is_installed_and_works():
    hasher = Argon2PasswordHasher()  # fails if argon2-cffi is missing
    encoded = hasher.encode("a passphrase", hasher.salt())

    assert encoded.startswith("argon2$")
    assert hasher.verify("a passphrase", encoded)
    assert not hasher.verify("another passphrase", encoded)


def test_sign_in_works_with_an_argon2_hash_as_production_stores_it(client, db, settings):
    # Passwords hashed by the production hasher verify through the real sign-in form.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    user = UserFactory()
    user.refresh_from_db()
    assert user.password.startswith("argon2$")

    sign_in(client, user.email)

    assert signed_in_user_id(client) == str(user.pk)


# --- Layout -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [LOGIN_URL, SIGNUP_URL, RESET_URL, "/accounts/confirm-email/"]
)
def test_account_pages_render_inside_the_portal_layout(client, db, url):
    page = client.get(url)

    assert page.status_code == 200
    body = page.content.decode()
    assert '<html lang="en"' in body
    assert '<a class="skip-link" href="#main">' in body
    assert '<main id="main"' in body
    assert "Menu:" not in body  # allauth's bare fallback layout is not used


def test_sign_in_page_shows_the_sign_in_form(client, db):
    page = client.get(LOGIN_URL)

    body = page.content.decode()
    assert 'name="login"' in body
    assert 'name="password"' in body
    assert f'action="{LOGIN_URL}"' in body
