"""A client's journey, in chromium on a phone-sized screen: the check-in e-mail's link, then the
portal: comment on the plan, suggest a goal, add an agenda topic, agree to the plan.
Every page is axe-checked and photographed (portal/browser_testing.py)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from care.models import AgendaItem, Comment, PlanProposal, PlanSignature
from care.services import plans as plan_services
from feedback.models import Answer, CheckinResponse
from feedback.services import checkins as checkin_services
from feedback.tests.checkin_support import (
    attended_session,
    checkin_world,
    plan_for,
    plans_began,
)
from portal import browser_testing as bt
from portal.testing import PASSWORD, make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWERS = bt.CHECKIN_ANSWERS


def client_world(world):
    """Kim Solo, with Cleo Carefield: a shared treatment plan, a check-in after every session,
    and a session that ended two hours ago, so the check-in e-mail has gone out."""
    world = checkin_world(world)
    parts = make_plan(practice=world.practice, client=world.client, clinician=world.clinician,
                      text="Sleep better", shared=False)
    with world.scope():
        plan_services.share_plan(practice=world.practice, actor=world.clinician, plan=parts.plan)
    measurement = plan_for(world)
    # The check-ins began yesterday, so today's session counts (sessions before never do).
    plans_began(world, timezone.now() - timedelta(days=1), pk=measurement.pk)
    attended_session(world, ago=timedelta(hours=2), minutes=50)
    with world.scope():
        (invitation,) = checkin_services.create_due_invitations(practice=world.practice)
    world.plan = parts.plan
    world.invitation = invitation
    return world


def test_a_client_checks_in_from_the_email_then_shapes_their_plan(world_a, live, new_page):
    world = client_world(world_a)
    # Sharing the plan sent a notification too; the check-in e-mail is the one with /c/.
    (message,) = [m for m in mail.outbox if f"{live}/c/" in m.body]
    assert message.to == [world.client.membership.email]
    page = new_page(viewport=bt.PHONE)

    # The e-mailed link: no sign-in, one short form.
    page.goto(bt.link_in(message, live))
    assert page.locator("h1").inner_text() == "Session check-in"
    bt.seen(page, "client-01-checkin-from-email")
    bt.answer_checkin(page, text="Keep the homework small.")
    bt.seen(page, "client-02-checkin-thank-you")

    # Signing in to the portal.
    bt.sign_in(page, live, world.client.membership.email, PASSWORD, name="client-03")
    assert page.locator("h1").inner_text() == "Hello, Kim"
    bt.seen(page, "client-04-home")

    # The plan: a comment on the whole plan.
    bt.nav(page, "Your plan")
    assert page.locator("h1").inner_text() == "Your plan"
    bt.seen(page, "client-05-plan")
    page.fill("#plan-comment", "I'd like to start with the evenings.")
    page.locator("#comments").get_by_role("button", name="Send comment").click()
    bt.expect_message(page, "Your comment was added.")
    assert "I'd like to start with the evenings." in page.locator("#comments").inner_text()

    # A goal in the client's own words.
    page.get_by_role("link", name="Suggest a new goal").click()
    bt.seen(page, "client-06-suggest-a-goal")
    page.get_by_label("Your suggestion").fill("Feel less tense before work")
    page.get_by_role("button", name="Send suggestion").click()
    bt.expect_message(page, "Your suggestion was sent to your care team")
    assert "Feel less tense before work" in page.locator("#suggestions").inner_text()

    # A topic for the next session.
    bt.nav(page, "Sessions")
    bt.seen(page, "client-07-sessions-and-agenda")
    page.get_by_label("In your own words").fill("How the first week went")
    page.get_by_role("button", name="Add to my agenda").click()
    bt.expect_message(page, "")
    assert "How the first week went" in page.locator("ul.agenda").inner_text()

    # Agreeing to the plan.
    bt.nav(page, "Your plan")
    page.fill("#typed-name", "Kim Solo")
    page.locator("#agreement button[type=submit]").click()
    bt.expect_message(page, "Your agreement to this version was recorded.")
    assert "You agreed to this version of the plan" in page.locator("#agreement").inner_text()
    bt.seen(page, "client-08-plan-agreed")

    bt.nav(page, "Check-ins")
    bt.seen(page, "client-09-checkins")

    # What the browser did is what the database holds.
    response = CheckinResponse.unscoped.get(client=world.client)
    world.invitation.refresh_from_db()
    assert (response.channel, world.invitation.response_id) == ("email", response.pk)
    stored = {a.item.key: a.value for a in Answer.unscoped.filter(response=response)
              .select_related("item")}
    assert {k: stored[k] for k in ANSWERS} == ANSWERS
    assert Comment.unscoped.filter(
        plan=world.plan, goal=None, author=world.client.membership,
        body="I'd like to start with the evenings.",
    ).exists()
    assert PlanProposal.unscoped.get(plan=world.plan, text="Feel less tense before work") \
        .status == "pending"
    assert AgendaItem.unscoped.filter(client=world.client, text="How the first week went").exists()
    assert PlanSignature.unscoped.filter(plan=world.plan, signer=world.client.membership).exists()

