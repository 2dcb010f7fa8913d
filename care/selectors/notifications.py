from django.db.models import Count, Min

from accounts.models import Membership
from care.models import Client, Notification


def unread_count(recipient: Membership) -> int:
    return Notification.objects.filter(recipient=recipient, read_at__isnull=True).count()


def unread_by_client(recipient: Membership) -> dict[int, int]:
    """For unread markers on caseload rows: {client_id: unread count}, in one query."""
    rows = (
        Notification.objects.filter(recipient=recipient, read_at__isnull=True)
        .values("client_id")
        .annotate(n=Count("id"))
    )
    return {row["client_id"]: row["n"] for row in rows}


def unread_by_area(recipient: Membership, client: Client) -> dict[str, int]:
    """For unread markers on a client's page sections: {area: unread count}."""
    return {area: row["n"] for area, row in unread_news(recipient, client).items()}


def unread_news(recipient: Membership, client: Client) -> dict[str, dict]:
    """{area: {"n": unread count, "oldest": when the oldest unread one arrived}}, one query."""
    rows = (
        Notification.objects.filter(recipient=recipient, client=client, read_at__isnull=True)
        .values("area")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    )
    return {row["area"]: row for row in rows}
