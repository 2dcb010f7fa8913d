"""Writes for clients and caseloads. Keyword-only, taking the practice and the acting member."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from accounts.services import issue_invitation, normalize_email
from care.models import CaseloadAssignment, Client
from portal.tenancy.models import Practice


@transaction.atomic
def create_client(
    *,
    practice: Practice,
    actor: Membership,
    first_name: str,
    last_name: str,
    email: str,
    phone: str = "",
    preferred_contact: str = Client.PreferredContact.EMAIL,
    send_invitation: bool = True,
) -> Client:
    """A client record; a clinician who creates one takes the client on their caseload."""
    email = normalize_email(email)
    if Membership.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "Someone with this e-mail address is already in the practice."})
    membership = Membership.objects.create(
        practice=practice, email=email, role=Membership.Role.CLIENT, status=Membership.Status.INVITED
    )
    client = Client.objects.create(
        practice=practice,
        membership=membership,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        phone=phone.strip(),
        preferred_contact=preferred_contact,
        created_by=actor,
    )
    if actor.role == Membership.Role.CLINICIAN:
        assign_client(practice=practice, actor=actor, client=client, clinician=actor)
    if send_invitation:
        issue_invitation(practice=practice, actor=actor, membership=membership)
    return client


def invite_client(*, practice: Practice, actor: Membership, client: Client):
    if client.is_discharged:
        raise ValidationError("This client has been discharged.")
    return issue_invitation(practice=practice, actor=actor, membership=client.membership)


@transaction.atomic
def assign_client(
    *, practice: Practice, actor: Membership, client: Client, clinician: Membership
) -> CaseloadAssignment:
    """Add a clinician to the client's care team. Assigning twice changes nothing."""
    if clinician.role not in Membership.STAFF_ROLES or clinician.status != Membership.Status.ACTIVE:
        raise ValidationError("Choose an active clinician of the practice.")
    if client.is_discharged:
        raise ValidationError("This client has been discharged.")
    assignment, _ = CaseloadAssignment.objects.get_or_create(
        client=client,
        clinician=clinician,
        ended_at=None,
        defaults={"practice": practice, "assigned_by": actor},
    )
    return assignment


def end_assignment(*, practice: Practice, actor: Membership, client: Client, clinician: Membership):
    CaseloadAssignment.objects.filter(client=client, clinician=clinician, ended_at=None).update(
        ended_at=timezone.now()
    )


@transaction.atomic
def transfer_client(
    *,
    practice: Practice,
    actor: Membership,
    client: Client,
    from_clinician: Membership,
    to_clinician: Membership,
) -> CaseloadAssignment:
    if from_clinician.pk == to_clinician.pk:
        raise ValidationError("Choose a different clinician to transfer to.")
    if not CaseloadAssignment.objects.filter(
        client=client, clinician=from_clinician, ended_at=None
    ).exists():
        raise ValidationError("That clinician is not working with this client.")
    assignment = assign_client(practice=practice, actor=actor, client=client, clinician=to_clinician)
    end_assignment(practice=practice, actor=actor, client=client, clinician=from_clinician)
    return assignment


@transaction.atomic
def discharge_client(*, practice: Practice, actor: Membership, client: Client) -> Client:
    """Care ends: the care team is released; the client keeps read access to their portal."""
    if client.is_discharged:
        return client
    now = timezone.now()
    client.discharged_at = now
    client.save(update_fields=["discharged_at"])
    CaseloadAssignment.objects.filter(client=client, ended_at=None).update(ended_at=now)
    return client
