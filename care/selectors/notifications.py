from django.db.models import Count, Min, Q

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
    rows = (
        Notification.objects.filter(recipient=recipient, client=client, read_at__isnull=True)
        .values("area")
        .annotate(n=Count("id"))
    )
    return {row["area"]: row["n"] for row in rows}


def unread_news(recipient: Membership, client: Client) -> tuple[dict[str, dict], int]:
    """The staff client page's markers and header badge in one query: ({area: {"n": unread
    count, "oldest": when the oldest unread one arrived}} for `client`, the unread count over
    every client). One row per area, whatever the number of notifications."""
    here = Q(client=client)
    rows = (
        Notification.objects.filter(recipient=recipient, read_at__isnull=True)
        .values("area")
        .annotate(
            n=Count("id", filter=here),
            oldest=Min("created_at", filter=here),
            everywhere=Count("id"),
        )
    )
    total = 0
    by_area = {}
    for row in rows:
        total += row["everywhere"]
        if row["n"]:
            by_area[row["area"]] = row
    return by_area, total
