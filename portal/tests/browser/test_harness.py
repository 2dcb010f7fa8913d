"""The harness itself: axe really runs and fails a page with a serious problem, and the
screenshots land where CI collects them."""

import pytest

from portal import browser_testing as bt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROKEN = """<!DOCTYPE html><html lang="en"><head><title>Broken</title></head><body><main>
<h1>Broken on purpose</h1><img src="/static/x.png"><form><input type="text" name="q"></form>
</main></body></html>"""


def test_axe_fails_a_page_with_serious_violations(page, live):
    page.goto(f"{live}/accounts/login/")  # an origin, so the page behaves like ours
    page.set_content(BROKEN)
    with pytest.raises(pytest.fail.Exception) as failure:
        bt.check_a11y(page, "broken")
    message = str(failure.value)
    for rule in ("image-alt", "label"):
        assert f"- {rule} [" in message, message
    assert "at img" in message


def test_a_clean_page_passes_and_is_photographed_at_both_widths(page, live):
    page.goto(f"{live}/accounts/login/")
    bt.seen(page, "harness-sign-in")
    for width in ("desktop", "phone"):
        assert (bt.SCREENSHOTS / f"harness-sign-in-{width}.png").stat().st_size > 1000
    assert (bt.REPORTS / "harness-sign-in.json").exists()


def test_the_authenticator_setup_page_is_completed_like_a_person_would(world_a, page, live):
    """The path of a staff member without an authenticator: the practice sends them to set one
    up after signing in (or they go there themselves)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import decrypt

    from accounts.models import Membership
    from portal.testing import PASSWORD, MembershipFactory

    newcomer = MembershipFactory(practice=world_a.practice, role=Membership.Role.CLINICIAN,
                                 mfa=False)
    user = newcomer.user
    assert not Authenticator.objects.filter(user=user).exists()
    secret = bt.sign_in(page, live, user.email, PASSWORD, name="harness-newcomer")
    if secret is None:  # a practice that does not require MFA let them in: set it up anyway
        page.goto(f"{live}{bt.TOTP_ACTIVATE}")
        secret = bt.complete_totp_setup_if_asked(page, password=PASSWORD, name="harness-totp")
    stored = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    assert secret and decrypt(stored.data["secret"]) == secret
