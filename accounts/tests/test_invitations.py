"""Every way an invitation link is sent, opened, accepted, refused, replaced and re-sent."""

import re
import smtplib
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from celery.exceptions import Retry
from django.core import mail
from django.core.cache import cache
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client as HttpClient
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, Membership, User
from accounts.tasks import (
    UNSENT_GRACE,
    retry_countdown,
    send_invitation,
    sweep_unsent_invitations,
)
from portal.tenancy.context import PracticeScopeMissing, practice_scope
from portal.testing import (
    enroll_totp,
    totp_code,
    PASSWORD,
    AssignmentFactory,
    ClientFactory,
    InvitationFactory,
    MembershipFactory,
    UserFactory,
)

LINK = re.compile(r"http://testserver/invite/([A-Za-z0-9_\-]+)/")
NEW_PASSWORD = "a long and private passphrase 7"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


class DisconnectedBackend(BaseEmailBackend):
    """An SMTP server that drops the connection on every send."""

    attempts = 0

    def send_messages(self, email_messages):
        type(self).attempts += 1
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def smtp_down(settings):
    DisconnectedBackend.attempts = 0
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.DisconnectedBackend"}}
    return DisconnectedBackend


def smtp_back_up(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


# --- helpers ------------------------------------------------------------------------------------


def token_in(message) -> str:
    match = LINK.search(message.body)
    assert match, f"no invitation link in:\n{message.body}"
    return match.group(1)


def invite_url(token: str) -> str:
    return f"/invite/{token}/"


def invite_staff_via_page(http, world, email, role="clinician", *, commit_hooks):
    with commit_hooks(execute=True):
        return http.post(world.url("staff/invite/"), {"email": email, "role": role})


def new_account_data(**overrides):
    return {
        "first_name": "Sam",
        "last_name": "Rivers",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **overrides,
    }


def membership_for(world, email) -> Membership:
    return Membership.unscoped.get(practice=world.practice, email=email)


def signed_in_user_id(http):
    return http.session.get("_auth_user_id")


FIXED_NAMES = {
    "admin": ("Ada", "Adminton"),
    "clinician": ("Cleo", "Carefield"),
    "clinician2": ("Dev", "Deepwater"),
    "client": ("Kim", "Solo"),
    "other_client": ("Otto", "Elsewhere"),
    "shared_client": ("Sia", "Together"),
}


@pytest.fixture
def named_world(world_a):
    """world_a with fixed names, so "no name appears in the e-mail" cannot pass or fail by luck."""
    for attr, (first, last) in FIXED_NAMES.items():
        person = getattr(world_a, attr)
        membership = person if isinstance(person, Membership) else person.membership
        User.objects.filter(pk=membership.user_id).update(first_name=first, last_name=last)
        if not isinstance(person, Membership):
            type(person).unscoped.filter(pk=person.pk).update(first_name=first, last_name=last)
    return world_a


def names_in_world():
    """Every person's name in named_world: none may appear in an invitation e-mail."""
    return [name for pair in FIXED_NAMES.values() for name in pair]


def pending_invitation(world, email="invitee@example.test", role=Membership.Role.CLINICIAN, **kw):
    membership = MembershipFactory(
        practice=world.practice, user=None, email=email, role=role,
        status=Membership.Status.INVITED,
    )
    return InvitationFactory(practice=world.practice, membership=membership, **kw)


def snapshot(invitation):
    """The state an invitation and its membership are in, to show that nothing changed."""
    invitation = Invitation.unscoped.get(pk=invitation.pk)
    membership = Membership.unscoped.get(pk=invitation.membership_id)
    return (
        invitation.accepted_at,
        invitation.revoked_at,
        membership.user_id,
        membership.status,
        User.objects.count(),
        Membership.unscoped.count(),
        EmailAddress.objects.count(),
    )


# --- Sending a staff invitation -----------------------------------------------------------------


def test_admin_invites_a_clinician_and_an_email_with_a_link_goes_out(
    world_a, as_member, django_capture_on_commit_callbacks
):
    http = as_member(world_a.admin)

    response = invite_staff_via_page(
        http,
        world_a,
        "  New.Clinician@Example.TEST ",
        commit_hooks=django_capture_on_commit_callbacks,
    )

    assert response.status_code == 302
    assert response["Location"] == world_a.url("staff/")
    membership = membership_for(world_a, "new.clinician@example.test")
    assert membership.role == Membership.Role.CLINICIAN
    assert membership.status == Membership.Status.INVITED
    assert membership.user_id is None
    invitation = Invitation.unscoped.get(membership=membership)
    assert invitation.practice_id == world_a.practice.pk
    assert invitation.created_by_id == world_a.admin.pk
    assert invitation.sent_at is not None
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.clinician@example.test"]
    assert world_a.practice.name in message.subject
    token = token_in(message)
    assert Invitation.hash_token(token) == invitation.token_hash
    assert world_a.practice.name in message.body

    staff_page = http.get(world_a.url("staff/")).content.decode()
    assert "new.clinician@example.test" in staff_page
    assert "link waiting for acceptance" in staff_page


def test_invitation_email_carries_no_clinical_content(
    named_world, as_member, django_capture_on_commit_callbacks
):
    world_a = named_world
    invite_staff_via_page(
        as_member(world_a.admin), world_a, "new@example.test",
        commit_hooks=django_capture_on_commit_callbacks,
    )

    message = mail.outbox[0]
    text = message.subject + "\n" + message.body
    for name in names_in_world():
        assert name not in text
    for html, _mime in getattr(message, "alternatives", []):
        for name in names_in_world():
            assert name not in html
    # Only the practice's name, the link and its expiry date.
    assert LINK.findall(text) and len(LINK.findall(text)) == 1


def test_nothing_is_sent_before_the_transaction_commits(world_a, as_member):
    # Without the commit hooks running (the test transaction never commits), no e-mail goes out:
    # the task is queued with delay_on_commit, never inside the transaction.
    response = as_member(world_a.admin).post(
        world_a.url("staff/invite/"), {"email": "later@example.test", "role": "clinician"}
    )

    assert response.status_code == 302
    assert mail.outbox == []
    invitation = Invitation.unscoped.get(membership__email="later@example.test")
    assert invitation.sent_at is None


def test_only_a_hash_of_the_token_is_stored(world_a, as_member, django_capture_on_commit_callbacks):
    invite_staff_via_page(
        as_member(world_a.admin), world_a, "new@example.test",
        commit_hooks=django_capture_on_commit_callbacks,
    )
    token = token_in(mail.outbox[0])
    invitation = Invitation.unscoped.get(membership__email="new@example.test")

    row = Invitation.unscoped.filter(pk=invitation.pk).values().get()
    for column, value in row.items():
        assert token not in str(value), f"the raw token is stored in Invitation.{column}"
    membership_row = Membership.unscoped.filter(pk=invitation.membership_id).values().get()
    for column, value in membership_row.items():
        assert token not in str(value), f"the raw token is stored in Membership.{column}"
    assert row["token_hash"] == Invitation.hash_token(token)
    assert row["token_hash"] != token


def test_each_invitation_gets_its_own_token(world_a):
    first = pending_invitation(world_a, email="one@example.test")
    second = pending_invitation(world_a, email="two@example.test")

    assert first.token != second.token
    assert first.token_hash != second.token_hash
    assert len(first.token) >= 32


def test_inviting_an_active_member_is_a_form_error(
    world_a, as_member, django_capture_on_commit_callbacks
):
    before = Invitation.unscoped.count()

    response = invite_staff_via_page(
        as_member(world_a.admin), world_a, world_a.clinician.user.email.upper(),
        commit_hooks=django_capture_on_commit_callbacks,
    )

    assert response.status_code == 200
    assert "already a member of the practice" in " ".join(response.context["form"].errors["email"])
    assert "already a member of the practice" in response.content.decode()
    assert Invitation.unscoped.count() == before
    assert mail.outbox == []
    world_a.clinician.refresh_from_db()
    assert world_a.clinician.status == Membership.Status.ACTIVE


def test_inviting_a_clients_address_as_staff_is_a_form_error(
    world_a, as_member, django_capture_on_commit_callbacks
):
    response = invite_staff_via_page(
        as_member(world_a.admin), world_a, world_a.client.email,
        commit_hooks=django_capture_on_commit_callbacks,
    )

    assert response.status_code == 200
    assert "belongs to a client" in " ".join(response.context["form"].errors["email"])
    world_a.client.membership.refresh_from_db()
    assert world_a.client.membership.role == Membership.Role.CLIENT
    assert mail.outbox == []


def test_inviting_the_same_address_twice_replaces_the_first_link(
    world_a, as_member, django_capture_on_commit_callbacks
):
    http = as_member(world_a.admin)
    invite_staff_via_page(http, world_a, "twice@example.test",
                          commit_hooks=django_capture_on_commit_callbacks)
    invite_staff_via_page(http, world_a, "twice@example.test", role="admin",
                          commit_hooks=django_capture_on_commit_callbacks)

    assert Membership.unscoped.filter(email="twice@example.test").count() == 1
    assert membership_for(world_a, "twice@example.test").role == Membership.Role.ADMIN
    assert len(mail.outbox) == 2
    old, new = token_in(mail.outbox[0]), token_in(mail.outbox[1])
    assert HttpClient().get(invite_url(old)).status_code == 410
    assert HttpClient().get(invite_url(new)).status_code == 200


# --- A new person accepts by creating an account ------------------------------------------------


def test_new_person_accepts_by_creating_an_account(
    world_a, as_member, client, django_capture_on_commit_callbacks
):
    invite_staff_via_page(
        as_member(world_a.admin), world_a, "sam@example.test",
        commit_hooks=django_capture_on_commit_callbacks,
    )
    token = token_in(mail.outbox[0])
    visitor = HttpClient()

    page = visitor.get(invite_url(token))
    assert page.status_code == 200
    body = page.content.decode()
    assert f"Join {world_a.practice.name}" in body
    assert "sam@example.test" in body
    assert 'name="password2"' in body

    response = visitor.post(invite_url(token), new_account_data())

    assert response.status_code == 302
    assert response["Location"] == world_a.url()
    user = User.objects.get(email="sam@example.test")
    assert (user.first_name, user.last_name) == ("Sam", "Rivers")
    assert user.check_password(NEW_PASSWORD)
    assert signed_in_user_id(visitor) == str(user.pk)
    membership = membership_for(world_a, "sam@example.test")
    assert membership.user_id == user.pk
    assert membership.status == Membership.Status.ACTIVE
    address = EmailAddress.objects.get(user=user)
    assert address.email == "sam@example.test"
    assert address.verified and address.primary
    invitation = Invitation.unscoped.get(membership=membership)
    assert invitation.accepted_at is not None

    # New staff set up two-factor authentication before the first practice page ...
    first = visitor.get(world_a.url())
    assert first.status_code == 302
    assert first["Location"] == "/accounts/2fa/totp/activate/"
    enroll_totp(user)
    home = visitor.get(world_a.url())
    assert home.status_code == 200
    assert home.wsgi_request.membership.role == Membership.Role.CLINICIAN
    assert f"Welcome to {world_a.practice.name}" in home.content.decode()

    # The verified address lets them sign in with the password later (no verification step),
    # then their authenticator code.
    visitor.logout()
    step = visitor.post("/accounts/login/", {"login": "sam@example.test", "password": NEW_PASSWORD})
    assert step["Location"] == "/accounts/2fa/authenticate/"
    assert signed_in_user_id(visitor) is None
    visitor.post("/accounts/2fa/authenticate/", {"code": totp_code(user)})
    assert signed_in_user_id(visitor) == str(user.pk)


def test_new_account_form_rejects_mismatched_passwords(world_a):
    invitation = pending_invitation(world_a)
    before = snapshot(invitation)

    response = HttpClient().post(
        invite_url(invitation.token), new_account_data(password2="something else entirely")
    )

    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert snapshot(invitation) == before


def test_new_account_form_rejects_a_weak_password(world_a):
    invitation = pending_invitation(world_a)
    before = snapshot(invitation)

    response = HttpClient().post(
        invite_url(invitation.token), new_account_data(password1="12345678", password2="12345678")
    )

    assert response.status_code == 200
    assert "password1" in response.context["form"].errors
    assert snapshot(invitation) == before


def test_new_account_form_requires_names(world_a):
    invitation = pending_invitation(world_a)
    before = snapshot(invitation)

    response = HttpClient().post(invite_url(invitation.token), new_account_data(first_name=""))

    assert response.status_code == 200
    assert "first_name" in response.context["form"].errors
    assert snapshot(invitation) == before


# --- Someone who already has an account ---------------------------------------------------------


def test_existing_account_must_sign_in_then_accept_links_the_same_user(
    world_a, world_b, as_member, django_capture_on_commit_callbacks
):
    existing = world_b.clinician.user  # works at another practice already
    invite_staff_via_page(
        as_member(world_a.admin), world_a, existing.email.upper(),
        commit_hooks=django_capture_on_commit_callbacks,
    )
    token = token_in(mail.outbox[0])
    users_before = User.objects.count()
    visitor = HttpClient()

    page = visitor.get(invite_url(token))
    assert page.status_code == 200
    body = page.content.decode()
    assert "already have a Rapport account" in body
    sign_in_href = f"/accounts/login/?next=/invite/{token}/"
    assert sign_in_href in body.replace("%2F", "/")
    # POSTing without signing in changes nothing.
    visitor.post(invite_url(token), new_account_data())
    assert User.objects.count() == users_before
    assert membership_for(world_a, existing.email).user_id is None

    password_step = visitor.post(
        "/accounts/login/",
        {"login": existing.email, "password": PASSWORD, "next": invite_url(token)},
    )
    assert password_step["Location"] == "/accounts/2fa/authenticate/"  # staff elsewhere: MFA
    signed_in = visitor.post("/accounts/2fa/authenticate/", {"code": totp_code(existing)})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == invite_url(token)
    confirm = visitor.get(invite_url(token))
    assert confirm.status_code == 200
    assert "Accept invitation" in confirm.content.decode()

    accepted = visitor.post(invite_url(token))

    assert accepted.status_code == 302
    assert accepted["Location"] == world_a.url()
    assert User.objects.count() == users_before
    assert User.objects.filter(email__iexact=existing.email).count() == 1
    membership = membership_for(world_a, existing.email)
    assert membership.user_id == existing.pk
    assert membership.status == Membership.Status.ACTIVE
    # Both practices are now open to the one account.
    picker = visitor.get("/")
    assert {m.practice.slug for m in picker.context["memberships"]} == {"alpha", "bravo"}


def test_signed_in_as_a_different_account_shows_a_page_and_changes_nothing(world_a, world_b):
    invitation = pending_invitation(world_a, email="someone.else@example.test")
    before = snapshot(invitation)
    intruder = HttpClient()
    intruder.force_login(world_b.clinician.user)

    page = intruder.get(invite_url(invitation.token))
    assert page.status_code == 200
    body = page.content.decode()
    assert "This invitation is for a different account" in body
    assert world_b.clinician.user.email in body

    again = intruder.post(invite_url(invitation.token), new_account_data())

    assert "This invitation is for a different account" in again.content.decode()
    assert snapshot(invitation) == before
    assert signed_in_user_id(intruder) == str(world_b.clinician.user.pk)


def test_different_account_cannot_take_an_invitation_meant_for_an_existing_account(
    world_a, world_b
):
    owner = UserFactory(email="owner@example.test")
    invitation = pending_invitation(world_a, email=owner.email)
    before = snapshot(invitation)
    intruder = HttpClient()
    intruder.force_login(world_b.admin.user)

    response = intruder.post(invite_url(invitation.token))

    assert "This invitation is for a different account" in response.content.decode()
    assert snapshot(invitation) == before


# --- Links that can no longer be used -----------------------------------------------------------


def test_expired_link_shows_410_and_changes_nothing(world_a):
    invitation = pending_invitation(world_a)
    Invitation.unscoped.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    before = snapshot(invitation)
    visitor = HttpClient()

    page = visitor.get(invite_url(invitation.token))
    posted = visitor.post(invite_url(invitation.token), new_account_data())

    assert page.status_code == 410
    assert "expired" in page.content.decode()
    assert world_a.practice.name in page.content.decode()
    assert posted.status_code == 410
    assert snapshot(invitation) == before
    assert signed_in_user_id(visitor) is None


def test_used_link_shows_410_already_used(world_a):
    invitation = pending_invitation(world_a)
    first = HttpClient()
    first.post(invite_url(invitation.token), new_account_data())
    assert signed_in_user_id(first)
    before = snapshot(invitation)

    second = HttpClient()
    page = second.get(invite_url(invitation.token))
    posted = second.post(invite_url(invitation.token), new_account_data(first_name="Mallory"))

    assert page.status_code == 410
    assert "already been used" in page.content.decode()
    assert posted.status_code == 410
    assert snapshot(invitation) == before
    assert not User.objects.filter(first_name="Mallory").exists()


def test_used_link_opened_again_by_its_owner_goes_to_the_practice(world_a):
    invitation = pending_invitation(world_a)
    owner = HttpClient()
    owner.post(invite_url(invitation.token), new_account_data())

    again = owner.get(invite_url(invitation.token))

    assert again.status_code == 302
    assert again["Location"] == world_a.url()


def test_revoked_link_shows_410(world_a, as_member):
    invitation = pending_invitation(world_a)

    response = as_member(world_a.admin).post(
        world_a.url(f"staff/{invitation.membership_id}/revoke/")
    )
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    before = snapshot(invitation)

    visitor = HttpClient()
    page = visitor.get(invite_url(invitation.token))
    posted = visitor.post(invite_url(invitation.token), new_account_data())

    assert page.status_code == 410
    assert "no longer valid" in page.content.decode()
    assert posted.status_code == 410
    assert snapshot(invitation) == before


def test_unknown_token_is_404_we_dont_recognise(db):
    visitor = HttpClient()

    page = visitor.get(invite_url("0" * 64))
    posted = visitor.post(invite_url("not-a-real-token"), new_account_data())

    assert page.status_code == 404
    assert "recognise this link" in page.content.decode()
    assert "We don&#x27;t recognise" in page.content.decode() or "We don't recognise" in (
        page.content.decode()
    )
    assert posted.status_code == 404
    assert not User.objects.exists()


def test_nonce_is_not_a_valid_token(world_a):
    # The database holds the nonce; the link needs the HMAC of it under SECRET_KEY.
    invitation = pending_invitation(world_a)

    assert HttpClient().get(invite_url(invitation.nonce)).status_code == 404
    assert HttpClient().get(invite_url(invitation.token_hash)).status_code == 404


def test_link_of_a_closed_practice_is_not_recognised(world_a):
    invitation = pending_invitation(world_a)
    world_a.practice.is_active = False
    world_a.practice.save()

    page = HttpClient().get(invite_url(invitation.token))

    assert page.status_code == 404


def test_link_of_a_deactivated_membership_no_longer_works(world_a, as_member):
    invitation = pending_invitation(world_a)

    as_member(world_a.admin).post(world_a.url(f"staff/{invitation.membership_id}/deactivate/"))

    assert HttpClient().get(invite_url(invitation.token)).status_code == 410


# --- Re-sending ---------------------------------------------------------------------------------


def test_resend_from_the_staff_page_revokes_the_old_link_and_the_new_one_works(
    world_a, as_member, django_capture_on_commit_callbacks
):
    http = as_member(world_a.admin)
    invite_staff_via_page(http, world_a, "resend@example.test",
                          commit_hooks=django_capture_on_commit_callbacks)
    old_token = token_in(mail.outbox[0])
    membership = membership_for(world_a, "resend@example.test")

    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(world_a.url(f"staff/{membership.pk}/resend/"))

    assert response.status_code == 302
    assert len(mail.outbox) == 2
    new_token = token_in(mail.outbox[1])
    assert new_token != old_token
    assert mail.outbox[1].to == ["resend@example.test"]
    invitations = list(Invitation.unscoped.filter(membership=membership).order_by("created_at"))
    assert len(invitations) == 2
    assert invitations[0].revoked_at is not None
    assert invitations[1].state == Invitation.State.PENDING

    visitor = HttpClient()
    old_page = visitor.get(invite_url(old_token))
    assert old_page.status_code == 410
    assert "no longer valid" in old_page.content.decode()
    accepted = visitor.post(invite_url(new_token), new_account_data())
    assert accepted.status_code == 302
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE


def test_resend_for_an_active_member_changes_nothing(
    world_a, as_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(world_a.admin).post(
            world_a.url(f"staff/{world_a.clinician.pk}/resend/"), follow=True
        )

    assert "already joined" in response.content.decode()
    assert mail.outbox == []
    assert not Invitation.unscoped.filter(membership=world_a.clinician).exists()


# --- Double submits -----------------------------------------------------------------------------


def test_double_post_of_a_new_account_acceptance_is_harmless(world_a):
    invitation = pending_invitation(world_a, email="double@example.test")
    users_before = User.objects.count()
    browser = HttpClient()

    first = browser.post(invite_url(invitation.token), new_account_data())
    second = browser.post(invite_url(invitation.token), new_account_data())

    assert first.status_code == 302 and first["Location"] == world_a.url()
    assert second.status_code == 302 and second["Location"] == world_a.url()
    assert User.objects.count() == users_before + 1
    user = User.objects.get(email="double@example.test")
    assert Membership.unscoped.filter(user=user).count() == 1
    assert Membership.unscoped.filter(email="double@example.test").count() == 1
    assert EmailAddress.objects.filter(email="double@example.test").count() == 1


def test_double_post_from_two_tabs_without_a_session_is_harmless(world_a):
    invitation = pending_invitation(world_a, email="double@example.test")
    users_before = User.objects.count()

    first = HttpClient().post(invite_url(invitation.token), new_account_data())
    second = HttpClient().post(invite_url(invitation.token), new_account_data())

    assert first.status_code == 302
    assert second.status_code == 410
    assert User.objects.count() == users_before + 1
    assert Membership.unscoped.filter(email="double@example.test", user__isnull=False).count() == 1


def test_double_post_of_an_existing_account_acceptance_is_harmless(world_a, world_b):
    existing = world_b.admin.user
    invitation = pending_invitation(world_a, email=existing.email)
    browser = HttpClient()
    browser.force_login(existing)

    first = browser.post(invite_url(invitation.token))
    second = browser.post(invite_url(invitation.token))

    assert first.status_code == 302 and second.status_code == 302
    assert Membership.unscoped.filter(user=existing, practice=world_a.practice).count() == 1
    assert User.objects.filter(email=existing.email).count() == 1


def test_accept_service_twice_returns_the_same_membership(world_a, world_b):
    user = world_b.clinician.user
    invitation = pending_invitation(world_a, email=user.email)

    with practice_scope(world_a.practice):
        first = services.accept_invitation(invitation=invitation, user=user)
        second = services.accept_invitation(invitation=invitation, user=user)

    assert first.pk == second.pk
    assert first.status == Membership.Status.ACTIVE


# --- Inviting a client --------------------------------------------------------------------------


@pytest.fixture
def uninvited_client(world_a):
    """A client record whose person has not joined the portal, on world_a.clinician's caseload."""
    membership = MembershipFactory(
        practice=world_a.practice, user=None, email="jo.client@example.test",
        role=Membership.Role.CLIENT, status=Membership.Status.INVITED,
    )
    client = ClientFactory(
        practice=world_a.practice, membership=membership, first_name="Joanna", last_name="Quill"
    )
    AssignmentFactory(practice=world_a.practice, client=client, clinician=world_a.clinician)
    return client


def test_assigned_clinician_invites_a_client_from_the_client_page(
    named_world, as_member, uninvited_client, django_capture_on_commit_callbacks
):
    world_a = named_world
    http = as_member(world_a.clinician)
    detail = http.get(world_a.url(f"clients/{uninvited_client.pk}/"))
    assert "Send an invitation" in detail.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(world_a.url(f"clients/{uninvited_client.pk}/invite/"))

    assert response.status_code == 302
    assert response["Location"] == world_a.url(f"clients/{uninvited_client.pk}/")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["jo.client@example.test"]
    assert "client portal" in message.body
    text = message.subject + message.body
    for name in ["Joanna", "Quill", *names_in_world()]:
        assert name not in text
    invitation = Invitation.unscoped.get(membership=uninvited_client.membership)
    assert invitation.created_by_id == world_a.clinician.pk
    assert invitation.sent_at is not None

    # The client accepts and lands in their own portal.
    visitor = HttpClient()
    accepted = visitor.post(invite_url(token_in(message)), new_account_data(first_name="Jo"))
    assert accepted.status_code == 302
    home = visitor.get(world_a.url())
    assert home.status_code == 200
    assert home.wsgi_request.membership.role == Membership.Role.CLIENT
    assert "Cleo Carefield" in home.content.decode()
    assert visitor.get(world_a.url("clients/")).status_code == 404
    uninvited_client.membership.refresh_from_db()
    assert uninvited_client.membership.status == Membership.Status.ACTIVE


def test_clinician_not_on_the_care_team_cannot_invite_the_client(
    world_a, as_member, uninvited_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(world_a.clinician2).post(
            world_a.url(f"clients/{uninvited_client.pk}/invite/")
        )

    assert response.status_code == 404
    assert mail.outbox == []
    assert not Invitation.unscoped.filter(membership=uninvited_client.membership).exists()


def test_clinician_of_another_practice_cannot_invite_the_client(
    world_a, world_b, as_member, uninvited_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(world_b.clinician).post(
            world_b.url(f"clients/{uninvited_client.pk}/invite/")
        )

    assert response.status_code == 404
    assert mail.outbox == []


def test_inviting_a_client_who_already_joined_changes_nothing(
    world_a, as_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(world_a.clinician).post(
            world_a.url(f"clients/{world_a.client.pk}/invite/"), follow=True
        )

    assert response.status_code == 200
    assert "already joined" in response.content.decode()
    assert mail.outbox == []
    assert not Invitation.unscoped.filter(membership=world_a.client.membership).exists()


def test_client_invitation_revoked_from_the_client_page_stops_working(
    world_a, as_member, uninvited_client, django_capture_on_commit_callbacks
):
    http = as_member(world_a.clinician)
    with django_capture_on_commit_callbacks(execute=True):
        http.post(world_a.url(f"clients/{uninvited_client.pk}/invite/"))
    token = token_in(mail.outbox[0])

    http.post(world_a.url(f"clients/{uninvited_client.pk}/revoke-invitation/"))

    assert HttpClient().get(invite_url(token)).status_code == 410


# --- The send task ------------------------------------------------------------------------------


def test_send_is_idempotent(world_a):
    invitation = pending_invitation(world_a)

    with practice_scope(world_a.practice):
        first = services.send_invitation_email(invitation_id=invitation.pk)
        second = services.send_invitation_email(invitation_id=invitation.pk)

    assert (first, second) == (True, False)
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert invitation.sent_at is not None


def test_send_task_twice_sends_one_email(world_a):
    invitation = pending_invitation(world_a)

    send_invitation.delay(world_a.practice.pk, invitation.pk)
    send_invitation.delay(world_a.practice.pk, invitation.pk)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [invitation.membership.email]


def test_send_refuses_to_run_without_a_practice_scope(world_a):
    invitation = pending_invitation(world_a)

    with pytest.raises(PracticeScopeMissing):
        services.send_invitation_email(invitation_id=invitation.pk)
    assert mail.outbox == []


def test_send_task_for_the_wrong_practice_sends_nothing(world_a, world_b):
    invitation = pending_invitation(world_a)

    send_invitation.delay(world_b.practice.pk, invitation.pk)

    assert mail.outbox == []
    invitation.refresh_from_db()
    assert invitation.sent_at is None


@pytest.mark.parametrize("closed", ["revoked_at", "accepted_at"])
def test_send_skips_closed_invitations(world_a, closed):
    invitation = pending_invitation(world_a, **{closed: timezone.now()})

    with practice_scope(world_a.practice):
        assert services.send_invitation_email(invitation_id=invitation.pk) is False
    assert mail.outbox == []


def test_send_skips_expired_invitations(world_a):
    invitation = pending_invitation(world_a, expires_at=timezone.now() - timedelta(seconds=1))

    with practice_scope(world_a.practice):
        assert services.send_invitation_email(invitation_id=invitation.pk) is False
    assert mail.outbox == []


# --- The sweeper --------------------------------------------------------------------------------


def test_sweeper_sends_lost_invitations_and_ignores_the_rest(world_a, world_b):
    now = timezone.now()
    old = now - UNSENT_GRACE - timedelta(minutes=1)
    lost = pending_invitation(world_a, email="lost@example.test", created_at=old)
    lost_b = pending_invitation(world_b, email="lost.b@example.test", created_at=old)
    skipped = {
        "recent": pending_invitation(world_a, email="recent@example.test",
                                     created_at=now - timedelta(seconds=30)),
        "revoked": pending_invitation(world_a, email="revoked@example.test", created_at=old,
                                      revoked_at=now),
        "accepted": pending_invitation(world_a, email="accepted@example.test", created_at=old,
                                       accepted_at=now),
        "expired": pending_invitation(world_a, email="expired@example.test", created_at=old,
                                      expires_at=now - timedelta(seconds=1)),
        "sent": pending_invitation(world_a, email="sent@example.test", created_at=old,
                                   sent_at=old),
    }

    swept = sweep_unsent_invitations.delay().get()

    assert swept == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["lost.b@example.test", "lost@example.test"]
    by_address = {m.to[0]: m for m in mail.outbox}
    assert world_b.practice.name in by_address["lost.b@example.test"].body
    assert Invitation.hash_token(token_in(by_address["lost@example.test"])) == lost.token_hash
    for invitation in (lost, lost_b):
        invitation.refresh_from_db()
        assert invitation.sent_at is not None
    for name, invitation in skipped.items():
        before_sent_at = invitation.sent_at
        invitation.refresh_from_db()
        assert invitation.sent_at == before_sent_at, name

    # A second sweep finds nothing left to do.
    assert sweep_unsent_invitations.delay().get() == 0
    assert len(mail.outbox) == 2


def test_swept_link_works(world_a):
    pending_invitation(
        world_a, email="swept@example.test", created_at=timezone.now() - UNSENT_GRACE - timedelta(minutes=1)
    )

    sweep_unsent_invitations()

    visitor = HttpClient()
    response = visitor.post(invite_url(token_in(mail.outbox[0])), new_account_data())
    assert response.status_code == 302
    assert membership_for(world_a, "swept@example.test").status == Membership.Status.ACTIVE


# --- SMTP failures ------------------------------------------------------------------------------


def test_smtp_failure_leaves_the_invitation_unsent(world_a, smtp_down):
    invitation = pending_invitation(world_a)

    with practice_scope(world_a.practice), pytest.raises(smtplib.SMTPServerDisconnected):
        services.send_invitation_email(invitation_id=invitation.pk)

    assert smtp_down.attempts == 1
    invitation.refresh_from_db()
    assert invitation.sent_at is None
    assert invitation.state == Invitation.State.PENDING


def test_smtp_failure_in_the_task_is_retried_and_then_sent_by_the_sweeper(
    world_a, smtp_down, settings
):
    invitation = pending_invitation(world_a)

    # The task asks Celery to retry transient SMTP errors later (eagerly, Celery raises the
    # Retry instead of queueing it).
    with pytest.raises(Retry) as retry:
        send_invitation.delay(world_a.practice.pk, invitation.pk)

    assert isinstance(retry.value.exc, smtplib.SMTPServerDisconnected)
    # Exponential back-off: 30 s for the first retry, capped at 10 minutes.
    assert retry.value.when == retry_countdown(0) == 30
    assert retry_countdown(10) == 600
    assert smtp_down.attempts == 1
    invitation.refresh_from_db()
    assert invitation.sent_at is None

    smtp_back_up(settings)
    Invitation.unscoped.filter(pk=invitation.pk).update(
        created_at=timezone.now() - UNSENT_GRACE - timedelta(minutes=1)
    )
    assert sweep_unsent_invitations() == 1

    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert invitation.sent_at is not None
    assert Invitation.hash_token(token_in(mail.outbox[0])) == invitation.token_hash


def test_smtp_failure_during_an_invite_keeps_the_invitation_for_a_later_send(
    world_a, as_member, smtp_down, settings, django_capture_on_commit_callbacks
):
    http = as_member(world_a.admin)
    with pytest.raises(Retry):
        with django_capture_on_commit_callbacks(execute=True):
            http.post(world_a.url("staff/invite/"), {"email": "later@example.test",
                                                      "role": "clinician"})

    invitation = Invitation.unscoped.get(membership__email="later@example.test")
    assert invitation.sent_at is None
    assert invitation.state == Invitation.State.PENDING

    smtp_back_up(settings)
    with practice_scope(world_a.practice):
        assert services.send_invitation_email(invitation_id=invitation.pk) is True
    assert mail.outbox[0].to == ["later@example.test"]


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that rejects the recipient for good (a 550)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({m.to[0]: (550, b"No such user") for m in email_messages})


def test_a_refused_address_is_recorded_shown_to_staff_and_not_swept(world_a, as_member, settings):
    invitation = pending_invitation(
        world_a, email="nobody@example.test", created_at=timezone.now() - UNSENT_GRACE * 2
    )
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusingBackend"}}

    assert send_invitation.delay(world_a.practice.pk, invitation.pk).get() is False

    invitation.refresh_from_db()
    assert invitation.sent_at is None
    assert invitation.send_failed_at is not None
    assert sweep_unsent_invitations() == 0
    page = as_member(world_a.admin).get(world_a.url("staff/"))
    assert "could not be delivered" in page.content.decode()


def test_a_send_that_keeps_failing_is_recorded_after_the_last_retry(world_a, smtp_down):
    invitation = pending_invitation(world_a)

    # The last allowed attempt: Celery reports how many retries came before.
    result = send_invitation.apply(
        args=(world_a.practice.pk, invitation.pk), retries=send_invitation.max_retries
    )

    assert result.get() is False
    invitation.refresh_from_db()
    assert invitation.send_failed_at is not None and invitation.sent_at is None
