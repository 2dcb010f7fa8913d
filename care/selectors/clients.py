"""Reads that care views (and later dashboards) share. Constant query counts per page."""

from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Membership
from care.models import CaseloadAssignment, Client


def _with_care_team(clients: QuerySet) -> QuerySet:
    open_assignments = CaseloadAssignment.objects.filter(ended_at__isnull=True).select_related(
        "clinician", "clinician__user"
    )
    return clients.select_related("membership").prefetch_related(
        Prefetch("assignments", queryset=open_assignments, to_attr="open_assignments")
    )


def _matching(clients: QuerySet, search: str) -> QuerySet:
    if not search:
        return clients
    return clients.filter(
        Q(first_name__icontains=search)
        | Q(last_name__icontains=search)
        | Q(membership__email__icontains=search)
    )


def caseload_for(clinician: Membership, *, search: str = "") -> QuerySet:
    """Clients the clinician is working with now."""
    return _with_care_team(current_clients_of(clinician, search=search))


def current_clients_of(clinician: Membership, *, search: str = "") -> QuerySet:
    """`caseload_for` without the care team loaded, for pages that need less of it."""
    clients = Client.objects.filter(
        pk__in=CaseloadAssignment.objects.filter(clinician=clinician, ended_at__isnull=True).values(
            "client_id"
        )
    )
    return _matching(clients, search)


def practice_clients(*, search: str = "", include_discharged: bool = False) -> QuerySet:
    clients = Client.objects.all()
    if not include_discharged:
        clients = clients.filter(discharged_at__isnull=True)
    return _with_care_team(_matching(clients, search))


def care_team(client: Client) -> list[Membership]:
    return [
        a.clinician
        for a in CaseloadAssignment.objects.filter(client=client, ended_at__isnull=True)
        .select_related("clinician__user")
        .order_by("started_at")
    ]


def assignable_clinicians() -> QuerySet:
    return (
        Membership.objects.filter(
            role__in=Membership.STAFF_ROLES, status=Membership.Status.ACTIVE, user__isnull=False
        )
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


def client_for_membership(membership: Membership) -> Client | None:
    return Client.objects.filter(membership=membership).first()
