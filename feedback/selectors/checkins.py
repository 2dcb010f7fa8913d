"""Reads for the check-in pages. A fixed number of queries per page, however many rows."""

from datetime import timedelta

from django.db.models import Prefetch
from django.utils import timezone

from care.models import Client
from feedback import scoring
from feedback.models import CheckinEmail, CheckinInvitation, MeasurementPlan
from feedback.services.plans import checkin_preferences

RECENT = 20
FAILURES_SHOWN_FOR = timedelta(days=14)


def _with_details(invitations):
    return invitations.select_related(
        "instrument_version__instrument", "response", "session"
    ).prefetch_related(
        Prefetch("emails", queryset=CheckinEmail.objects.order_by("created_at", "id"))
    )


def plans_of(client: Client) -> list[MeasurementPlan]:
    """Open plans first (active, then paused), then stopped ones, newest first within."""
    plans = list(MeasurementPlan.objects.filter(client=client).select_related("instrument"))
    order = {MeasurementPlan.Status.ACTIVE: 0, MeasurementPlan.Status.PAUSED: 1}
    plans.sort(key=lambda p: (order.get(p.status, 2), -p.created_at.timestamp(), -p.pk))
    return plans


def recent_invitations(client: Client, limit: int = RECENT) -> list[CheckinInvitation]:
    invitations = list(
        _with_details(CheckinInvitation.objects.filter(client=client)).order_by(
            "-created_at", "-id"
        )[:limit]
    )
    for invitation in invitations:
        mails = list(invitation.emails.all())
        invitation.failed_emails = [e for e in mails if e.status == CheckinEmail.Status.FAILED]
        invitation.last_email = mails[-1] if mails else None
        invitation.score = _score(invitation)
    return invitations


def _score(invitation: CheckinInvitation) -> float | None:
    """The response's score by its version's rule (without loading the version again)."""
    response = invitation.response
    if response is None or response.entered_in_error_at is not None:
        return None
    rule = invitation.instrument_version.scoring_rule
    return {scoring.SUM: response.total, scoring.MEAN: response.mean,
            scoring.INDEX: response.index}.get(rule)


def client_checkins_page(client: Client) -> dict:
    """Everything the staff page about one client's check-ins shows."""
    plans = plans_of(client)
    invitations = recent_invitations(client)
    return {
        "plans": plans,
        "open_plans": [p for p in plans if p.status != MeasurementPlan.Status.STOPPED],
        "stopped_plans": [p for p in plans if p.status == MeasurementPlan.Status.STOPPED],
        "preferences": checkin_preferences(client),
        "invitations": invitations,
        "failed_count": sum(1 for i in invitations if i.failed_emails),
        "today": timezone.localdate(),
    }


def open_checkins_of(client: Client) -> list[CheckinInvitation]:
    """The client's check-ins waiting for answers, soonest to close first."""
    return list(
        CheckinInvitation.objects.filter(
            client=client, status=CheckinInvitation.Status.OPEN, expires_at__gt=timezone.now()
        )
        .select_related("instrument_version__instrument", "session")
        .order_by("expires_at", "id")
    )


def answered_checkins_of(client: Client, limit: int = 10) -> list[CheckinInvitation]:
    return list(
        CheckinInvitation.objects.filter(client=client, status=CheckinInvitation.Status.COMPLETED)
        .select_related("instrument_version__instrument")
        .order_by("-completed_at", "-id")[:limit]
    )


def staff_panel(client: Client) -> dict:
    """The small check-ins panel on the staff client page (three queries)."""
    plans = [p for p in plans_of(client) if p.status != MeasurementPlan.Status.STOPPED]
    open_count = CheckinInvitation.objects.filter(
        client=client, status=CheckinInvitation.Status.OPEN, expires_at__gt=timezone.now()
    ).count()
    failed = CheckinEmail.objects.filter(
        invitation__client=client,
        status=CheckinEmail.Status.FAILED,
        failed_at__gte=timezone.now() - FAILURES_SHOWN_FOR,
    ).exists()
    return {"plans": plans, "open_count": open_count, "has_failed_email": failed}
