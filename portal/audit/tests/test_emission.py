"""Who emits what: account events from the sign-in flow and allauth's MFA signals, staff access
to clinical pages (only once access succeeded), and membership/invitation changes."""

import pytest
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.test import Client as HttpClient
from django.test import RequestFactory

from accounts import services as account_services
from accounts.models import Membership
from feedback.models import Alert
from feedback.tests.alerts_support import Answering, with_instruments
from portal.audit.models import AuditEvent
from portal.testing import PASSWORD, UserFactory, make_plan

Action = AuditEvent.Action


def events(**filters):
    return list(AuditEvent.unscoped.filter(**filters).order_by("pk"))


# --- account events -----------------------------------------------------------------------------


@pytest.fixture
def person(db):
    return UserFactory(email="person@example.test")  # verified address, PASSWORD


def sign_in(http, email, password):
    return http.post("/accounts/login/", {"login": email, "password": password},
                     REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="TestBrowser/1.0")


def test_signing_in_and_out_is_recorded_for_the_person(person):
    http = HttpClient()
    assert sign_in(http, person.email, PASSWORD).status_code == 302
    http.post("/accounts/logout/", REMOTE_ADDR="198.51.100.7")
    signed_in, signed_out = events(actor=person)
    assert (signed_in.action, signed_out.action) == (Action.SIGN_IN, Action.SIGN_OUT)
    assert signed_in.practice_id is None  # an account event belongs to no one practice
    assert (signed_in.ip, signed_in.user_agent) == ("198.51.100.7", "TestBrowser/1.0")


def test_a_wrong_password_is_a_failure_of_that_account(person):
    assert sign_in(HttpClient(), person.email, "not the password").status_code == 200
    (failed,) = events(action=Action.SIGN_IN_FAILED)
    assert failed.actor_id == person.pk and failed.actor_email == person.email
    assert failed.detail == {"stage": "password"}
    assert PASSWORD not in str(failed.detail) and "not the password" not in str(failed.detail)


def test_a_failure_for_an_unknown_address_names_the_address_only(db):
    sign_in(HttpClient(), "Nobody@Example.test", "whatever-password")
    (failed,) = events(action=Action.SIGN_IN_FAILED)
    assert failed.actor_id is None and failed.practice_id is None
    assert failed.actor_email == "nobody@example.test"


def _mfa_request(user):
    request = RequestFactory().post("/accounts/2fa/", REMOTE_ADDR="192.0.2.1")
    request.user = user
    return request


@pytest.mark.parametrize("signal, kind, action", [
    (mfa_signals.authenticator_added, Authenticator.Type.TOTP, Action.MFA_ADDED),
    (mfa_signals.authenticator_added, Authenticator.Type.RECOVERY_CODES,
     Action.RECOVERY_CODES_GENERATED),
    (mfa_signals.authenticator_reset, Authenticator.Type.RECOVERY_CODES,
     Action.RECOVERY_CODES_GENERATED),
    (mfa_signals.authenticator_removed, Authenticator.Type.TOTP, Action.MFA_REMOVED),
])
def test_mfa_changes_are_recorded_without_secrets(person, signal, kind, action):
    authenticator = Authenticator.objects.create(user=person, type=kind, data={"seed": "SECRET"})
    signal.send(sender=Authenticator, request=_mfa_request(person), user=person,
                authenticator=authenticator)
    (event,) = events(actor=person)
    assert event.action == action and event.detail == {"type": kind}
    assert (event.target_type, event.target_id) == ("mfa.authenticator", authenticator.pk)
    assert "SECRET" not in str(event.detail)


def test_a_wrong_second_factor_is_a_failed_sign_in(person):
    authenticator = Authenticator.objects.create(user=person, type="totp", data={})
    mfa_signals.authentication_failed.send(
        sender=Authenticator, request=_mfa_request(person), user=person,
        authenticator=authenticator,
    )
    (event,) = events(actor=person)
    assert event.action == Action.SIGN_IN_FAILED
    assert event.detail == {"stage": "mfa", "type": "totp"}


# --- staff access to clinical data -------------------------------------------------------------


def test_opening_a_client_is_recorded_and_a_refusal_is_not(world_a, as_member):
    http = as_member(world_a.clinician)
    before = AuditEvent.unscoped.exclude(action=Action.SIGN_IN).count()
    assert http.get(world_a.url(f"clients/{world_a.client.pk}/")).status_code == 200
    # world_a.other_client is clinician2's only: the same 404 as "not there", and no event.
    assert http.get(world_a.url(f"clients/{world_a.other_client.pk}/")).status_code == 404
    (viewed,) = events(action=Action.VIEW_CLIENT)
    assert AuditEvent.unscoped.exclude(action=Action.SIGN_IN).count() == before + 1
    assert viewed.practice_id == world_a.practice.pk
    assert viewed.actor_id == world_a.clinician.user_id
    assert (viewed.target_type, viewed.target_id) == ("care.client", world_a.client.pk)
    assert viewed.ip == "127.0.0.1"


def test_plan_pages_record_staff_views_and_changes_but_not_the_clients_own(world_a, as_member):
    parts = make_plan(practice=world_a.practice, client=world_a.client,
                      clinician=world_a.clinician)
    staff = as_member(world_a.clinician)
    assert staff.get(world_a.url(f"clients/{world_a.client.pk}/plan/")).status_code == 200
    staff.post(world_a.url(f"clients/{world_a.client.pk}/plan/comment/"),
               {"body": "Staff remark about sleep"})
    client_side = HttpClient()
    client_side.force_login(world_a.client.membership.user)
    assert client_side.get(world_a.url("my/plan/")).status_code == 200

    viewed, changed = events(practice=world_a.practice)
    assert (viewed.action, viewed.target_type, viewed.target_id) == (
        Action.VIEW_PLAN, "care.treatmentplan", parts.plan.pk)
    assert changed.action == Action.CHANGE_PLAN and changed.detail == {"change": "comment"}
    assert not events(actor=world_a.client.membership.user, practice=world_a.practice)


def test_checkins_and_alerts_are_recorded(world_a, as_member):
    with_instruments(world_a)
    Answering(world_a).alliance(2, rupture=True)
    alert = Alert.unscoped.get(client=world_a.client, kind=Alert.Kind.RUPTURE)
    http = as_member(world_a.clinician)
    base = f"clients/{world_a.client.pk}/"
    assert http.get(world_a.url(f"checkins/{base}")).status_code == 200
    ack = world_a.url(f"alerts/{base}{alert.pk}/acknowledge/")
    assert http.get(ack).status_code == 200
    assert http.post(ack, {"note": "Talked it through"}).status_code == 302
    actions = [(e.action, e.target_type) for e in events(practice=world_a.practice)]
    assert actions == [
        (Action.VIEW_CHECKINS, "care.client"),
        (Action.VIEW_ALERT, "feedback.alert"),
        (Action.CHANGE_ALERT, "feedback.alert"),
    ]


# --- people and access ------------------------------------------------------------------------


def test_invitations_role_changes_and_deactivation_are_recorded(world_a):
    p, admin = world_a.practice, world_a.admin
    with world_a.scope():
        invitation = account_services.invite_staff(
            practice=p, actor=admin, email="new@example.test", role=Membership.Role.CLINICIAN
        )
        account_services.deactivate_membership(practice=p, actor=admin,
                                               membership=invitation.membership)
        account_services.invite_staff(
            practice=p, actor=admin, email="new@example.test", role=Membership.Role.ADMIN
        )
        account_services.deactivate_membership(practice=p, actor=admin,
                                               membership=world_a.clinician2)
    got = [(e.action, e.detail) for e in events(practice=p)]
    membership = invitation.membership.pk
    assert got == [
        (Action.INVITATION_SENT, {"membership": membership, "role": "clinician"}),
        (Action.MEMBERSHIP_DEACTIVATED, {"role": "clinician"}),
        (Action.ROLE_CHANGE, {"from": "clinician", "to": "admin"}),
        (Action.INVITATION_SENT, {"membership": membership, "role": "admin"}),
        (Action.MEMBERSHIP_DEACTIVATED, {"role": "clinician"}),
    ]
    assert {e.actor_id for e in events(practice=p)} == {admin.user_id}


def test_accepting_an_invitation_is_recorded_for_the_new_member(world_a):
    with world_a.scope():
        invitation = account_services.invite_staff(
            practice=world_a.practice, actor=world_a.admin, email="joiner@example.test",
            role=Membership.Role.CLINICIAN,
        )
        user = account_services.create_account_and_accept(
            invitation=invitation, first_name="Jo", last_name="Iner", password=PASSWORD
        )
    (accepted,) = events(action=Action.INVITATION_ACCEPTED)
    assert accepted.actor_id == user.pk and accepted.practice_id == world_a.practice.pk
    assert (accepted.target_type, accepted.target_id) == ("accounts.invitation", invitation.pk)
