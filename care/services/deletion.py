"""Deleting a client under the retention policy in docs/retention.md.

Free text and anything that names the client is removed; the numbers that practice statistics
and trend reports are built from (check-in scores and scale answers, session times, alert
timings) are kept, attached to a client record that no longer says who it was. The membership
is deactivated and unlinked from the person's account, their sessions end, and one audit event
with ids and counts only records who did it. Practice export files are removed after commit,
since every one of them names the client.
"""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Invitation, Membership, User
from care.models import (
    AgendaItem,
    CareRequest,
    CaseloadAssignment,
    Client,
    Comment,
    Notification,
    PlanSignature,
    TerminationPlan,
    TreatmentPlan,
)
from feedback import scoring
from feedback.models import (
    Alert,
    Answer,
    CheckinInvitation,
    CheckinPreferences,
    CheckinResponse,
    MeasurementPlan,
)
from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from portal.rls.db import rls_bypass
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

DELETED_FIRST_NAME = "Deleted"
DELETED_LAST_NAME = "client"


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


def name_matches(client: Client, typed: str) -> bool:
    return bool(typed.strip()) and _normal(typed) == _normal(client.full_name)


def deleted_email(membership: Membership) -> str:
    # .invalid never resolves (RFC 2606): nothing can ever be sent to it.
    return f"deleted-client-{membership.pk}@deleted.invalid"


def _anonymise_account(user: User) -> bool:
    """Anonymise the sign-in account when this practice was its only one; True if it was."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    with rls_bypass():  # memberships in every practice: under RLS the scope would hide them
        member_elsewhere = Membership.unscoped.filter(user=user).exists()
    if member_elsewhere:
        return False  # still a member elsewhere: the account is the person's, not ours
    user.email = f"deleted-user-{user.pk}@deleted.invalid"
    user.first_name = user.last_name = ""
    user.password = make_password(None)  # unusable; also invalidates every session hash
    user.is_active = False
    user.save(update_fields=["email", "first_name", "last_name", "password", "is_active"])
    EmailAddress.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    return True


def _expire_export_files(practice: Practice) -> None:
    from portal.exports import services as exports

    with practice_scope(practice):
        exports.expire_files(practice=practice)


def delete_client(*, practice: Practice, actor: Membership, client: Client, typed_name: str) -> dict:
    """Remove or anonymise everything about `client` (see the module docstring); returns counts.

    `typed_name` must be the client's full name: a deliberate step, not a slip of the mouse.
    """
    if actor.role != Membership.Role.ADMIN:
        raise ValidationError("Only a practice admin can delete a client.")
    if client.first_name == DELETED_FIRST_NAME and client.last_name == DELETED_LAST_NAME:
        raise ValidationError("This client has been deleted already.")
    if not name_matches(client, typed_name):
        raise ValidationError("Type the client's full name exactly as shown to confirm.")
    from accounts.sessions import end_all_sessions

    now = timezone.now()
    counts: dict[str, int] = {}
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        membership = Membership.objects.select_for_update().get(pk=client.membership_id)
        plans = TreatmentPlan.objects.filter(client=client)

        # Removed: everything written by or about the client.
        counts["comments"] = Comment.objects.filter(client=client).delete()[0]
        # Signatures first: they PROTECT the revisions that the plans cascade to.
        counts["signatures"] = PlanSignature.objects.filter(plan__in=plans).delete()[0]
        counts["plan_rows"] = plans.delete()[0]
        counts["agenda_items"] = AgendaItem.objects.filter(client=client).delete()[0]
        TerminationPlan.objects.filter(client=client).delete()
        counts["requests"] = CareRequest.objects.filter(client=client).delete()[0]
        Notification.objects.filter(client=client).delete()
        Notification.objects.filter(recipient=membership).delete()
        CheckinPreferences.objects.filter(client=client).delete()
        counts["written_answers"] = Answer.objects.filter(
            response__client=client, item__response_kind=scoring.TEXT
        ).delete()[0]
        Invitation.objects.filter(membership=membership).delete()

        # Kept without identifying content: the numbers the practice's statistics use.
        CheckinResponse.objects.filter(client=client).update(entered_in_error_reason="")
        CheckinInvitation.objects.filter(client=client, status=CheckinInvitation.Status.OPEN).update(
            status=CheckinInvitation.Status.CANCELLED, closed_at=now
        )
        MeasurementPlan.objects.filter(client=client).exclude(
            status=MeasurementPlan.Status.STOPPED
        ).update(status=MeasurementPlan.Status.STOPPED, status_changed_at=now, updated_at=now)
        alerts = list(Alert.objects.filter(client=client))
        for alert in alerts:
            # Rule keys and times stay for rupture/repair statistics; the texts go.
            alert.reasons = [
                {k: r[k] for k in ("rule", "response_id", "at") if k in r} for r in alert.reasons
            ]
            alert.acknowledgement_note = alert.repair_note = alert.dismissal_reason = ""
        Alert.objects.bulk_update(
            alerts, ["reasons", "acknowledgement_note", "repair_note", "dismissal_reason"]
        )
        counts["alerts"] = len(alerts)
        CaseloadAssignment.objects.filter(client=client, ended_at=None).update(ended_at=now)

        client.first_name, client.last_name, client.phone = DELETED_FIRST_NAME, DELETED_LAST_NAME, ""
        client.discharged_at = client.discharged_at or now
        client.save(update_fields=["first_name", "last_name", "phone", "discharged_at"])

        user = membership.user
        membership.email = deleted_email(membership)
        membership.status = Membership.Status.INACTIVE
        membership.status_changed_at = now
        membership.user = None
        membership.save(update_fields=["email", "status", "status_changed_at", "user"])
        if user is not None:
            counts["sessions_ended"] = end_all_sessions(user)
            counts["account_anonymised"] = int(_anonymise_account(user))

        record_event(
            practice=practice, actor=actor, action=AuditEvent.Action.DELETE_CLIENT,
            target=client, detail={"membership_id": membership.pk, **counts},
        )
        transaction.on_commit(lambda: _expire_export_files(practice))
    return counts
