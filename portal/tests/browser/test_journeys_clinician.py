"""A clinician's journey, in chromium at desktop width: sign in with an authenticator code, find
the possible rupture at the top of the caseload, acknowledge it, accept the client's suggestion,
agree to the plan, and check in with the client in session (the client answers on a phone from
the QR page's link). Every page is axe-checked and photographed (portal/browser_testing.py)."""

import pytest

from care.models import Client, PlanProposal, PlanRevision, PlanSignature
from care.services import plans as plan_services
from feedback.models import Alert, CheckinInvitation, CheckinResponse
from feedback.tests.alerts_support import Answering
from feedback.tests.checkin_support import checkin_world
from portal import browser_testing as bt
from portal.testing import PASSWORD, make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def clinician_world(world):
    """Cleo Carefield's caseload: Kim Solo, whose last check-in dropped (a possible rupture) and
    who suggested a goal; and Aaron Abbott, with nothing to attend to, whose name sorts first."""
    world = checkin_world(world)
    Client.unscoped.filter(pk=world.shared_client.pk).update(first_name="Aaron", last_name="Abbott")
    parts = make_plan(practice=world.practice, client=world.client, clinician=world.clinician,
                      text="Sleep better", shared=False)
    me = {"practice": world.practice, "actor": world.client.membership}
    with world.scope():
        plan_services.share_plan(practice=world.practice, actor=world.clinician, plan=parts.plan)
        plan_services.propose(**me, plan=parts.plan, text="Walk after lunch")
    answering = Answering(world)
    answering.alliance(10)
    answering.alliance([6, 7, 8, 6, 8, 7, 7, 6], rupture=True)
    world.alert = Alert.unscoped.get(client=world.client)
    world.plan = parts.plan
    world.totp = bt.enroll_totp(world.clinician.user)
    return world


def test_a_clinician_attends_to_a_rupture_and_the_plan(world_a, live, new_page):
    world = clinician_world(world_a)
    assert world.alert.status == "open"
    page = new_page()

    bt.sign_in(page, live, world.clinician.user.email, PASSWORD, totp_secret=world.totp,
               name="clinician-01")
    assert page.locator("h1").inner_text() == "Hello, Cleo"
    cards = page.locator("#main .card-list .card")
    assert cards.count() == 2
    assert "Kim Solo" in cards.nth(0).inner_text()
    assert "Possible rupture" in cards.nth(0).inner_text()
    assert "Aaron Abbott" in cards.nth(1).inner_text()
    bt.seen(page, "clinician-02-caseload")

    # The alert, on the client's page.
    cards.nth(0).get_by_role("link").click()
    assert page.locator("h1").inner_text() == "Kim Solo"
    bt.seen(page, "clinician-03-client")
    alert = page.locator("#alerts .alert-card").first
    alert.locator("summary", has_text="Acknowledge").click()
    alert.get_by_label("How will you bring this into the room?").fill(
        "Ask Kim at the start of the next session what felt off."
    )
    alert.get_by_role("button", name="Acknowledge").click()
    bt.expect_message(page, "The alert is acknowledged.")
    bt.seen(page, "clinician-04-client-alert-acknowledged")

    # The plan: accept the suggestion, then agree to the changed plan.
    page.get_by_role("link", name="Open the plan").click()
    bt.seen(page, "clinician-05-plan")
    suggestion = page.locator("#suggestions .proposal", has_text="Walk after lunch")
    suggestion.get_by_role("button", name="Accept and add to the plan").click()
    bt.expect_message(page, "Accepted and added to the plan.")
    assert "Walk after lunch" in page.locator("#goals").inner_text()
    page.fill("#typed-name", "Cleo Carefield")
    page.locator("#agreement button[type=submit]").click()
    bt.expect_message(page, "Your agreement to this version was recorded.")
    bt.seen(page, "clinician-06-plan-agreed")

    # In session: "check in now", the client answers on their phone.
    page.get_by_role("link", name="Back to Kim Solo").click()
    page.get_by_role("link", name="Check in now").click()
    bt.seen(page, "clinician-07-checkin-now")
    page.get_by_role("button", name="Show the QR code").click()
    assert page.locator(".qr-figure svg").count() == 1
    bt.seen(page, "clinician-08-checkin-qr")
    short_link = page.locator(".short-link").inner_text().split()[-1]  # after "Link:"
    phone = new_page(viewport=bt.PHONE)
    phone.goto(f"{live.split('://')[0]}://{short_link}")
    bt.answer_checkin(phone)
    bt.seen(phone, "clinician-09-in-session-checkin-thank-you")
    page.get_by_role("link", name="Check whether it's answered").click()
    assert "Kim has answered" in page.locator("#main").inner_text()

    # The clinician's own trend report (the link under the caseload heading).
    bt.nav(page, "Home")
    page.get_by_role("link", name="Your trends over the last 12 months").click()
    assert page.locator("h1").inner_text() == "Your trends"
    bt.seen(page, "clinician-10-my-trends")
    bt.nav(page, "Home")
    assert "waiting for repair" in cards.nth(0).inner_text()  # acknowledged, still on top

    world.alert.refresh_from_db()
    assert world.alert.status == "acknowledged"
    assert world.alert.acknowledged_by_id == world.clinician.pk
    proposal = PlanProposal.unscoped.get(plan=world.plan)
    assert (proposal.status, proposal.responded_by_id) == ("accepted", world.clinician.pk)
    world.plan.refresh_from_db()
    signature = PlanSignature.unscoped.get(plan=world.plan, signer=world.clinician)
    latest = PlanRevision.unscoped.filter(plan=world.plan).order_by("-number").first()
    assert signature.revision_id == latest.pk  # agreed to the plan with the accepted goal
    invitation = CheckinInvitation.unscoped.get(client=world.client, channel="in_session")
    assert invitation.status == "completed"
    assert CheckinResponse.unscoped.get(pk=invitation.response_id).channel == "in_session"
