"""Writes for practices, memberships and invitations. Views stay thin and call these."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership
from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from feedback.services import install_standard_instruments
from portal.rls.db import rls_bypass
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

User = get_user_model()


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --- Practices ----------------------------------------------------------------------------------


@transaction.atomic
def create_practice(*, user, name: str, slug: str, time_zone: str) -> Practice:
    """A signed-in user opens a new practice and becomes its first admin."""
    if Practice.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": "That web address is taken. Try another."})
    try:
        with transaction.atomic():
            practice = Practice.objects.create(name=name.strip(), slug=slug, time_zone=time_zone)
    except IntegrityError:  # another request took the slug a moment ago
        raise ValidationError({"slug": "That web address is taken. Try another."})
    with practice_scope(practice):
        Membership.objects.create(
            practice=practice,
            user=user,
            email=normalize_email(user.email),
            role=Membership.Role.ADMIN,
            status=Membership.Status.ACTIVE,
        )
        install_standard_instruments(practice)
    return practice


# --- Invitations --------------------------------------------------------------------------------


def issue_invitation(*, practice: Practice, actor: Membership | None, membership: Membership):
    """A fresh link for `membership`; any earlier open link for it stops working.

    The e-mail goes out from Celery once this transaction has committed.
    """
    from accounts.tasks import send_invitation

    if membership.status == Membership.Status.ACTIVE:
        raise ValidationError("This person has already joined the practice.")
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(
            membership=membership, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = Invitation(
            practice=practice,
            membership=membership,
            created_by=actor,
            created_at=now,
            expires_at=now + settings.INVITATION_TTL,
        )
        invitation.assign_new_token()
        invitation.save()
        record_event(
            practice=practice, actor=actor, action=AuditEvent.Action.INVITATION_SENT,
            target=invitation, detail={"membership": membership.pk, "role": membership.role},
        )
        send_invitation.delay_on_commit(practice.pk, invitation.pk)
    return invitation


@transaction.atomic
def invite_staff(*, practice: Practice, actor: Membership, email: str, role: str) -> Invitation:
    if role not in Membership.STAFF_ROLES:
        raise ValidationError({"role": "Choose practice admin or clinician."})
    email = normalize_email(email)
    membership = Membership.objects.select_for_update().filter(email__iexact=email).first()
    if membership is None and (user := User.objects.filter(email__iexact=email).first()):
        membership = Membership.objects.select_for_update().filter(user=user).first()
    if membership is not None:
        if membership.role == Membership.Role.CLIENT:
            raise ValidationError({"email": "This address belongs to a client of the practice."})
        if membership.status == Membership.Status.ACTIVE:
            raise ValidationError({"email": "This person is already a member of the practice."})
        if membership.role != role:
            record_event(practice=practice, actor=actor, action=AuditEvent.Action.ROLE_CHANGE,
                         target=membership, detail={"from": membership.role, "to": role})
        membership.role = role
        membership.status = Membership.Status.INVITED
        membership.status_changed_at = timezone.now()
        membership.save(update_fields=["role", "status", "status_changed_at"])
    else:
        membership = Membership.objects.create(
            practice=practice, email=email, role=role, status=Membership.Status.INVITED
        )
    return issue_invitation(practice=practice, actor=actor, membership=membership)


def revoke_invitation(*, practice: Practice, actor: Membership, invitation: Invitation) -> None:
    if invitation.state != Invitation.State.PENDING:
        raise ValidationError("Only a link that is still open can be revoked.")
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def resend_invitation(*, practice: Practice, actor: Membership, invitation: Invitation):
    return issue_invitation(practice=practice, actor=actor, membership=invitation.membership)


def find_invitation(token: str) -> Invitation | None:
    """The invitation a link points at, in whichever practice it belongs to.

    Cross-practice by nature: the link is all the visitor has.
    """
    with rls_bypass():
        return (
            Invitation.unscoped.select_related("practice", "membership", "membership__user")
            .filter(token_hash=Invitation.hash_token(token))
            .first()
        )


def account_for_email(email: str):
    return User.objects.filter(email__iexact=normalize_email(email)).first()


@transaction.atomic
def accept_invitation(*, invitation: Invitation, user) -> Membership:
    """Link `user` to the invited membership and activate it. Safe to repeat."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    membership = Membership.objects.select_for_update().get(pk=invitation.membership_id)
    if invitation.state == Invitation.State.ACCEPTED and membership.user_id == user.pk:
        return membership  # a double submit of the same acceptance
    if invitation.state != Invitation.State.PENDING:
        raise ValidationError("This invitation link can no longer be used.")
    if normalize_email(user.email) != normalize_email(membership.email):
        raise ValidationError("This invitation was sent to a different e-mail address.")
    if membership.user_id not in (None, user.pk):
        raise ValidationError("This invitation belongs to another account.")
    other = Membership.objects.filter(user=user).exclude(pk=membership.pk).first()
    if other is not None:
        raise ValidationError(
            f"Your account already belongs to this practice as {other.get_role_display().lower()}."
        )
    now = timezone.now()
    membership.user = user
    membership.status = Membership.Status.ACTIVE
    membership.status_changed_at = now
    membership.save(update_fields=["user", "status", "status_changed_at"])
    invitation.accepted_at = now
    invitation.save(update_fields=["accepted_at"])
    record_event(practice=invitation.practice, actor=user,
                 action=AuditEvent.Action.INVITATION_ACCEPTED, target=invitation,
                 detail={"membership": membership.pk, "role": membership.role})
    return membership


@transaction.atomic
def create_account_and_accept(
    *, invitation: Invitation, first_name: str, last_name: str, password: str
):
    """A new account for the invited address; the link proved the address, so it is verified."""
    from allauth.account.models import EmailAddress

    email = normalize_email(invitation.membership.email)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, first_name=first_name, last_name=last_name
            )
    except IntegrityError:
        raise ValidationError("An account with this e-mail address already exists. Sign in.")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    accept_invitation(invitation=invitation, user=user)
    return user


def invitation_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("accept_invitation", args=[invitation.token])


def send_invitation_email(*, invitation_id: int) -> bool:
    """Send one invitation e-mail at most once; True when this call sent it.

    The row is locked for the send, and marked sent in the same transaction, so a redelivered
    or swept task finds it sent and does nothing. No clinical content: practice name and link.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("practice", "membership")
            .filter(pk=invitation_id)
            .first()
        )
        if (
            invitation is None
            or invitation.sent_at
            or invitation.send_failed_at
            or invitation.state != Invitation.State.PENDING
        ):
            return False
        context = {
            "practice": invitation.practice,
            "url": invitation_url(invitation),
            "expires_at": invitation.expires_at,
            "is_client": invitation.membership.role == Membership.Role.CLIENT,
        }
        send_mail(
            subject=f"Your invitation to {invitation.practice.name} on Rapport",
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.membership.email],
        )
        invitation.sent_at = timezone.now()
        invitation.save(update_fields=["sent_at"])
    return True


def record_invitation_send_failure(*, invitation_id: int) -> None:
    """The address cannot be reached: stop trying and show it to the staff who sent it."""
    Invitation.objects.filter(pk=invitation_id, sent_at__isnull=True).update(
        send_failed_at=timezone.now()
    )


# --- Memberships --------------------------------------------------------------------------------


@transaction.atomic
def deactivate_membership(*, practice: Practice, actor: Membership, membership: Membership):
    """Access ends now: the person's sessions end (everywhere, once this commits), and the
    middleware admits active memberships only."""
    if membership.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself.")
    if membership.status == Membership.Status.INACTIVE:
        return membership
    now = timezone.now()
    membership.status = Membership.Status.INACTIVE
    membership.status_changed_at = now
    membership.save(update_fields=["status", "status_changed_at"])
    Invitation.objects.filter(
        membership=membership, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    record_event(practice=practice, actor=actor, action=AuditEvent.Action.MEMBERSHIP_DEACTIVATED,
                 target=membership, detail={"role": membership.role})
    if membership.user_id is not None:
        end_sessions_on_commit(membership.user)
    return membership


def end_sessions_on_commit(user) -> None:
    """Sign `user` out of every session once the surrounding transaction has committed.

    All of them, in every practice: sessions are per person, not per membership (the person
    signs in again to reach the practices they still belong to).
    """
    from accounts.sessions import end_all_sessions

    transaction.on_commit(lambda: end_all_sessions(user))


@transaction.atomic
def reactivate_membership(*, practice: Practice, actor: Membership, membership: Membership):
    if membership.status != Membership.Status.INACTIVE:
        return membership
    if membership.user_id is None:
        return invite_staff(
            practice=practice, actor=actor, email=membership.email, role=membership.role
        ).membership
    membership.status = Membership.Status.ACTIVE
    membership.status_changed_at = timezone.now()
    membership.save(update_fields=["status", "status_changed_at"])
    record_event(practice=practice, actor=actor, action=AuditEvent.Action.MEMBERSHIP_REACTIVATED,
                 target=membership, detail={"role": membership.role})
    return membership
