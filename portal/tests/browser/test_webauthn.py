"""A security key (WebAuthn) as a staff member's second factor, through the real browser
ceremony: chromium's virtual authenticator (DevTools WebAuthn domain) stands in for the key.
The clinician adds a key on allauth's page, signs out, and signs in again with the key alone
as the second factor (no authenticator code)."""

import pytest
from allauth.mfa.models import Authenticator

from portal import browser_testing as bt
from portal.testing import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def virtual_security_key(page) -> dict:
    """A platform-less USB key that says yes (user present and verified) to every request."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    added = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }})
    return {"devtools": devtools, "id": added["authenticatorId"]}


def test_a_clinician_adds_a_security_key_and_signs_in_with_it(world_a, live, new_page):
    user = world_a.clinician.user
    secret = bt.enroll_totp(user)
    page = new_page()
    key = virtual_security_key(page)
    bt.sign_in(page, live, user.email, PASSWORD, totp_secret=secret)

    page.goto(f"{live}/accounts/2fa/webauthn/add/")  # a fresh sign-in needs no password again
    bt.seen(page, "security-key-add")
    page.locator("input[name='name']").fill("Desk key")
    with page.expect_navigation():
        page.locator("#mfa_webauthn_add").click()
    keys = Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN)
    assert keys.count() == 1
    stored = key["devtools"].send("WebAuthn.getCredentials", {"authenticatorId": key["id"]})
    assert len(stored["credentials"]) == 1  # the key holds the credential the site registered

    page.context.clear_cookies()  # signed out
    page.goto(f"{live}/accounts/login/")
    page.fill("input[name='login']", user.email)
    bt.submit_field(page, "password", PASSWORD)
    assert bt.MFA_AUTHENTICATE in page.url
    with page.expect_navigation():
        page.locator("#mfa_webauthn_authenticate").click()
    assert bt.MFA_AUTHENTICATE not in page.url and "/accounts/login/" not in page.url
    page.goto(f"{live}{world_a.url()}")
    assert page.url.endswith(world_a.url())  # a practice page, with the key as second factor
    stored = key["devtools"].send("WebAuthn.getCredentials", {"authenticatorId": key["id"]})
    assert stored["credentials"][0]["signCount"] >= 1  # the key signed the sign-in challenge
