"""Reads for sessions, the client's agenda, requests and the ending plan.

Every function runs a fixed number of queries, however many rows there are; the page views and
panels are built from them (tests compare query counts for a few and for many rows).
"""

from datetime import datetime, timedelta

from django.db.models import Count, Min, Prefetch, Q
from django.utils import timezone

from accounts.models import Membership
from care.models import (
    AgendaItem,
    CareRequest,
    Client,
    Comment,
    Notification,
    TerminationPlan,
    TherapySession,
)
from care.selectors.notifications import unread_by_area, unread_news

SESSION_LIST_LIMIT = 100
REQUEST_LIST_LIMIT = 100
HANDLED_AGENDA_LIMIT = 20
OUTSTANDING = (AgendaItem.Status.OPEN, AgendaItem.Status.CARRIED_OVER)
NEWS_ALLOWANCE = timedelta(seconds=5)


# --- sessions -----------------------------------------------------------------------------------


def _sessions(client: Client):
    return TherapySession.objects.filter(client=client).select_related("clinician__user")


def next_session(client: Client) -> TherapySession | None:
    """The client's next scheduled session still to come."""
    return (
        _sessions(client)
        .filter(status=TherapySession.Status.SCHEDULED, starts_at__gt=timezone.now())
        .order_by("starts_at", "id")
        .first()
    )


def session_lists(client: Client) -> dict:
    """Upcoming (soonest first) and past (latest first) sessions, each with its open topics counted.

    Two queries. Each list is capped; `*_more` says when there were more.
    """
    now = timezone.now()
    annotated = _sessions(client).annotate(
        open_topics=Count("agenda_items", filter=Q(agenda_items__status__in=OUTSTANDING))
    )
    upcoming = list(
        annotated.filter(starts_at__gt=now).order_by("starts_at", "id")[: SESSION_LIST_LIMIT + 1]
    )
    past = list(
        annotated.filter(starts_at__lte=now).order_by("-starts_at", "-id")[: SESSION_LIST_LIMIT + 1]
    )
    next_one = next((s for s in upcoming if s.status == TherapySession.Status.SCHEDULED), None)
    return {
        "upcoming": upcoming[:SESSION_LIST_LIMIT],
        "upcoming_more": len(upcoming) > SESSION_LIST_LIMIT,
        "past": past[:SESSION_LIST_LIMIT],
        "past_more": len(past) > SESSION_LIST_LIMIT,
        "next_session": next_one,
    }


# --- agenda -------------------------------------------------------------------------------------


def outstanding_agenda(client: Client) -> list[AgendaItem]:
    """Topics not yet talked about (open or carried over), oldest first, with their session."""
    return list(
        AgendaItem.objects.filter(client=client, status__in=OUTSTANDING)
        .select_related("session")
        .order_by("created_at", "id")
    )


def agenda_by_kind(items: list[AgendaItem]) -> list[tuple[str, str, list[AgendaItem]]]:
    """[(kind, label, items)] in a fixed order (to talk about, then not today), empty kinds too."""
    return [
        (kind, label, [i for i in items if i.kind == kind])
        for kind, label in AgendaItem.Kind.choices
    ]


def handled_agenda(client: Client, *, limit: int = HANDLED_AGENDA_LIMIT) -> list[AgendaItem]:
    """Topics talked about, most recent first (the client's agenda history)."""
    return list(
        AgendaItem.objects.filter(client=client, status=AgendaItem.Status.ADDRESSED)
        .select_related("session")
        .order_by("-handled_at", "-id")[:limit]
    )


# --- requests -----------------------------------------------------------------------------------


def requests_for(client: Client) -> dict:
    """The client's requests, open ones first, then the rest newest first (one query)."""
    rows = list(
        CareRequest.objects.filter(client=client)
        .select_related("responded_by__user")
        .order_by("-created_at", "-id")[: REQUEST_LIST_LIMIT + 1]
    )
    shown = rows[:REQUEST_LIST_LIMIT]
    return {
        "open_requests": [r for r in shown if r.status == CareRequest.Status.OPEN],
        "closed_requests": [r for r in shown if r.status != CareRequest.Status.OPEN],
        "requests_more": len(rows) > REQUEST_LIST_LIMIT,
    }


def open_requests(client: Client) -> list[CareRequest]:
    return list(
        CareRequest.objects.filter(client=client, status=CareRequest.Status.OPEN).order_by(
            "created_at", "id"
        )
    )


def open_end_request(client: Client) -> CareRequest | None:
    """The client's open request to end therapy, if any."""
    return (
        CareRequest.objects.filter(
            client=client, kind=CareRequest.Kind.END, status=CareRequest.Status.OPEN
        )
        .order_by("-created_at", "-id")
        .first()
    )


# --- the ending plan ----------------------------------------------------------------------------


def open_termination(client: Client) -> TerminationPlan | None:
    return TerminationPlan.objects.filter(client=client, status=TerminationPlan.Status.OPEN).first()


def termination_for(client: Client) -> TerminationPlan | None:
    """The open ending plan, else the most recent one; with its comments (two queries)."""
    comments = Comment.objects.select_related("author__user").order_by("created_at", "id")
    plans = (
        TerminationPlan.objects.filter(client=client)
        .select_related("request", "created_by__user")
        .prefetch_related(Prefetch("comments", queryset=comments, to_attr="thread"))
    )
    return (
        plans.filter(status=TerminationPlan.Status.OPEN).first()
        or plans.order_by("-updated_at", "-id").first()
    )


# --- "new" markers and panels -------------------------------------------------------------------


def unread_since(viewer: Membership, client: Client, area: str) -> datetime | None:
    """When the oldest unread notification for `viewer` in `area` arrived (None: nothing new).

    Rows created since then are new to the viewer. A row is written a moment before the
    notification about it (in the same service call), hence the small allowance. Read this before
    marking the area read.
    """
    since = Notification.objects.filter(
        recipient=viewer, client=client, area=area, read_at__isnull=True
    ).aggregate(since=Min("created_at"))["since"]
    return _new_since(since)


def _new_since(oldest_unread: datetime | None) -> datetime | None:
    return oldest_unread - NEWS_ALLOWANCE if oldest_unread is not None else None


def staff_panel(client: Client, viewer: Membership) -> dict:
    """The sessions, agenda, requests and ending panel on the staff client page (5 queries).

    `unread_areas` (counts) also serves the page's other panels; `agenda_new_since` is as
    unread_since(viewer, client, "agenda") would say, and `unread_total` is the viewer's unread
    count over every client, from the same query.
    """
    agenda = outstanding_agenda(client)
    news, total = unread_news(viewer, client)
    return {
        "next_session": next_session(client),
        "agenda_groups": agenda_by_kind(agenda),
        "agenda_count": len(agenda),
        "open_requests": open_requests(client),
        "open_termination": open_termination(client),
        "unread_areas": {area: row["n"] for area, row in news.items()},
        "agenda_new_since": _new_since(news.get("agenda", {}).get("oldest")),
        "unread_total": total,
    }


def client_home_panel(client: Client, viewer: Membership) -> dict:
    """The client's own panel on their home page: what's next and what's waiting (5 queries)."""
    counts = AgendaItem.objects.filter(client=client, status__in=OUTSTANDING).aggregate(
        n=Count("id")
    )
    return {
        "next_session": next_session(client),
        "agenda_count": counts["n"],
        "open_request_count": CareRequest.objects.filter(
            client=client, status=CareRequest.Status.OPEN
        ).count(),
        "open_termination": open_termination(client),
        "unread_areas": unread_by_area(viewer, client),
    }
