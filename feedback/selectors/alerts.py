"""Reads for alerts: the home banner and the client page panel (the caseload's order is in
feedback.selectors.caseload).
Every function runs a fixed number of queries, whatever the number of clients or alerts."""

from django.db.models import Q

from accounts.models import Membership
from care.models import CaseloadAssignment, Client
from feedback.models import Alert

CLOSED_SHOWN = 10


def attention_for(membership: Membership) -> list[Alert]:
    """Open safety alerts for the home banner: of the clinician's own clients, and for an
    admin also every escalated one in the practice. One query."""
    if membership.role not in (Membership.Role.ADMIN, Membership.Role.CLINICIAN):
        return []
    shown = Q(
        client__in=CaseloadAssignment.objects.filter(
            clinician=membership, ended_at__isnull=True
        ).values("client_id")
    )
    if membership.role == Membership.Role.ADMIN:
        shown |= Q(escalated_at__isnull=False)
    return list(
        Alert.objects.filter(shown, kind=Alert.Kind.SAFETY, status=Alert.Status.OPEN)
        .select_related("client")
        .order_by("created_at", "id")
    )


def client_alerts(client: Client) -> dict:
    """The client page's alerts: unresolved (safety first) and the latest closed ones, with the
    people who acted. One query (the latest closed ones' ids in a subquery)."""
    people = ("acknowledged_by__user", "repaired_by__user", "dismissed_by__user")
    alerts = Alert.objects.filter(client=client)
    unresolved_q = Q(status__in=Alert.UNRESOLVED)
    latest_closed = alerts.exclude(unresolved_q).order_by("-updated_at", "-id")[:CLOSED_SHOWN]
    rows = list(
        alerts.filter(unresolved_q | Q(pk__in=latest_closed.values("pk")))
        .select_related(*people)
        .order_by("-severity", "created_at", "id")
    )
    unresolved = [a for a in rows if a.is_unresolved]
    # A safety alert stays on top whatever its severity field says.
    unresolved.sort(key=lambda a: (not a.is_safety, a.status != Alert.Status.OPEN))
    closed = sorted(
        (a for a in rows if not a.is_unresolved), key=lambda a: (a.updated_at, a.pk), reverse=True
    )
    return {"unresolved": unresolved, "closed": closed}


def access_alert(client: Client, alert_id: int) -> Alert:
    """An alert of `client` (already checked with care.access.access_client), else 404."""
    from django.http import Http404

    alert = Alert.objects.filter(client=client, pk=alert_id).first()
    if alert is None:
        raise Http404
    return alert
