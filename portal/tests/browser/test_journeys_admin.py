"""A practice admin's journey, in chromium at desktop width: sign in with an authenticator code,
invite a clinician (who accepts in their own browser), give them a client, recompute and open
the practice report and the new clinician's trends. Every page is axe-checked and photographed (portal/browser_testing.py)."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Membership, User
from care.models import CaseloadAssignment
from feedback.tests.checkin_support import checkin_world
from portal import browser_testing as bt
from portal.testing import PASSWORD, ClientFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a long walk by the river"


def admin_world(world):
    """Ada Adminton runs the practice; Nia Newcombe has just been added, with no clinician."""
    world = checkin_world(world)
    world.nia = ClientFactory(
        practice=world.practice,
        membership=MembershipFactory(
            practice=world.practice, role=Membership.Role.CLIENT,
            user=UserFactory(first_name="Nia", last_name="Newcombe"),
        ),
        first_name="Nia", last_name="Newcombe",
    )
    world.totp = bt.enroll_totp(world.admin.user)
    return world


def test_an_admin_invites_a_clinician_and_gives_them_a_client(world_a, live, new_page):
    world = admin_world(world_a)
    admin = new_page()

    bt.sign_in(admin, live, world.admin.user.email, PASSWORD, totp_secret=world.totp,
               name="admin-01")
    assert admin.locator("h1").inner_text() == "Hello, Ada"
    bt.seen(admin, "admin-02-home")

    # Inviting a clinician.
    bt.nav(admin, "Staff")
    bt.seen(admin, "admin-03-staff")
    admin.get_by_role("link", name="Invite a staff member").click()
    bt.seen(admin, "admin-04-invite-staff")
    admin.get_by_label("E-mail address").fill("dana.demir@example.test")
    admin.get_by_label("Clinician").check()
    admin.get_by_role("button", name="Send invitation").click()
    bt.expect_message(admin, "Invitation sent to dana.demir@example.test.")
    assert "dana.demir@example.test" in admin.locator("#main table").inner_text()
    (message,) = [m for m in mail.outbox if m.to == ["dana.demir@example.test"]]

    # The invited clinician, in their own browser: a new account from the e-mailed link.
    dana = new_page()
    dana.goto(bt.link_in(message, live))
    assert dana.locator("h1").inner_text() == f"Join {world.practice.name}"
    bt.seen(dana, "invited-clinician-01-create-account")
    dana.get_by_label("First name").fill("Dana")
    dana.get_by_label("Last name").fill("Demir")
    dana.get_by_label("Choose a password").fill(NEW_PASSWORD)
    dana.get_by_label("Type the password again").fill(NEW_PASSWORD)
    dana.get_by_role("button", name="Create account and join").click()
    dana.wait_for_load_state("load")
    # When the practice requires MFA for staff, the first page is setting up an authenticator.
    if bt.complete_totp_setup_if_asked(dana, password=NEW_PASSWORD, name="invited-clinician-02"):
        dana.goto(f"{live}/")
    assert dana.locator("h1").inner_text() == "Hello, Dana"
    assert "No clients are assigned to you yet." in dana.locator("#main").inner_text()
    bt.seen(dana, "invited-clinician-03-home")

    # Giving Dana a client.
    bt.nav(admin, "Clients")
    bt.seen(admin, "admin-05-clients")
    admin.get_by_role("link", name="Nia Newcombe").click()
    bt.seen(admin, "admin-06-client")
    admin.get_by_role("combobox", name="Clinician").select_option(label="Dana Demir")
    admin.get_by_role("button", name="Add to the care team").click()
    bt.expect_message(admin, "Dana Demir now works with Nia Newcombe.")

    dana.reload()
    assert "Nia Newcombe" in dana.locator("#main .card-list").inner_text()

    # The practice report: recomputed on demand (Celery runs eagerly here), then a
    # clinician's trends with their caseload summary (supervision).
    admin.goto(live + reverse("feedback:practice_report", kwargs={"practice_slug": world.practice.slug}))
    assert admin.locator("h1").inner_text() == "Practice report"
    admin.get_by_role("button", name="Recompute now").click()
    admin.wait_for_load_state("load")
    assert "Figures computed" in admin.locator("#main").inner_text()
    assert admin.get_by_role("heading", name="Clinicians").count() == 1
    bt.seen(admin, "admin-07-practice-report")
    admin.get_by_role("link", name="Dana Demir").click()
    assert admin.locator("h1").inner_text() == "Trends for Dana Demir"
    assert "1 client in care" in admin.locator("#main").inner_text()
    bt.seen(admin, "admin-08-clinician-trends")

    dana_user = User.objects.get(email="dana.demir@example.test")
    membership = Membership.unscoped.get(practice=world.practice, user=dana_user)
    assert (membership.role, membership.status) == ("clinician", "active")
    assert CaseloadAssignment.unscoped.filter(
        client=world.nia, clinician=membership, ended_at__isnull=True
    ).exists()
