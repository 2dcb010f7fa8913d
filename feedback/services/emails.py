"""Check-in e-mails: one row per invitation per kind (the invitation, reminder 1, 2, ...), held
back during the practice's quiet hours, sent at most once.

DESIGN.md, "Background work": the row is the idempotency key under a unique constraint. A send
task claims it with select_for_update, sends, and marks it sent in the same transaction, so a
redelivered, swept or duplicated task finds it sent and does nothing. A sweeper re-dispatches
rows whose message was lost (worker killed, broker restarted) and rows whose quiet hours are
over. E-mails carry no clinical content: the practice's name, the link and when it expires.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from feedback import schedule
from feedback.models import CheckinEmail, CheckinInvitation, FeedbackSettings, MeasurementPlan
from feedback.services.plans import checkin_preferences, feedback_settings, wants_email
from portal.tenancy.models import Practice

# Longer than the longest retry countdown, so the sweeper never races a pending retry.
UNSENT_GRACE = timedelta(minutes=15)
SWEEP_BATCH = 500

# What send_checkin_email did.
SENT = "sent"
SKIPPED = "skipped"
WAITING = "waiting"  # quiet hours: the sweeper sends it when they end
NOTHING = "nothing"  # sent, failed or skipped already (a redelivered or duplicate task)


class SentNotRecorded(Exception):
    """The mail server took the e-mail, but the database went away before it was marked sent
    (the commit failed). The task must record it (record_sent) once the database is back,
    rather than let the sweeper send it again."""

    def __init__(self, *, email_id: int, sent_at: datetime):
        super().__init__(email_id)
        self.email_id, self.sent_at = email_id, sent_at


def message_id(email: CheckinEmail) -> str:
    """A Message-ID derived from the idempotency key (the row), the same on every attempt:
    in the one case where the e-mail can go out twice (the sender dies between the server's
    "250" and our commit), mail clients and servers that de-duplicate by Message-ID show it
    once. Nothing in it identifies a person."""
    domain = urlsplit(settings.SITE_URL).hostname or "rapport.invalid"
    return f"<checkin-email-{email.practice_id}-{email.pk}@{domain}>"


def checkin_link(invitation: CheckinInvitation) -> str:
    return settings.SITE_URL + reverse("checkin_link", args=[invitation.token])


def quiet_until(practice: Practice, now: datetime, row: FeedbackSettings | None = None):
    """When the practice's quiet hours around `now` end, or None outside them."""
    row = row if row is not None else feedback_settings(practice)
    return schedule.quiet_until(
        now, ZoneInfo(practice.time_zone), row.quiet_hours_start, row.quiet_hours_end
    )


def queue_email(
    *,
    practice: Practice,
    invitation: CheckinInvitation,
    kind: str,
    now: datetime | None = None,
    settings_row: FeedbackSettings | None = None,
) -> CheckinEmail | None:
    """Create the e-mail (invitation, kind) and queue its send once the transaction commits,
    or hold it until quiet hours end. None when that e-mail exists already."""
    now = now or timezone.now()
    until = quiet_until(practice, now, settings_row)
    try:
        with transaction.atomic():
            email = CheckinEmail.objects.create(
                practice=practice,
                invitation=invitation,
                kind=kind,
                not_before=until or now,
                created_at=now,
            )
    except IntegrityError:  # another job queued it a moment ago
        return None
    if until is None:
        dispatch([email], now=now)
    return email


def dispatch(emails: list[CheckinEmail], *, now: datetime) -> None:
    """Queue a send task for each e-mail after commit, noting when (for the sweeper)."""
    from feedback.tasks import send_checkin_email

    if not emails:
        return
    CheckinEmail.objects.filter(pk__in=[e.pk for e in emails]).update(dispatched_at=now)
    for email in emails:
        send_checkin_email.delay_on_commit(email.practice_id, email.pk)


def _why_not(email: CheckinEmail, invitation: CheckinInvitation, now: datetime) -> str:
    """Why this e-mail must not go out (any more), or "" when it may."""
    if invitation.status == CheckinInvitation.Status.COMPLETED:
        return "The check-in was answered."
    if invitation.status != CheckinInvitation.Status.OPEN or invitation.expires_at <= now:
        return "The check-in had closed."
    client = invitation.client
    if client.is_discharged:
        return "The client's time in care had ended."
    prefs = checkin_preferences(client)
    if not wants_email(client, prefs):
        return "The client chose not to get check-in e-mails."
    if email.kind != CheckinEmail.INVITE:
        if prefs.reminders_paused:
            return "The client paused reminders."
        plan = invitation.plan
        if plan is None or plan.status != MeasurementPlan.Status.ACTIVE:
            return "The measurement plan was paused or stopped."
        if plan.channel != CheckinInvitation.Channel.EMAIL:
            return "The measurement plan no longer uses e-mail."
    return ""


def send_checkin_email(*, email_id: int, now: datetime | None = None) -> str:
    """Send one check-in e-mail at most once (see the module docstring); what happened.

    SMTP errors propagate (nothing is marked): the task retries transient ones and records
    permanent ones with record_email_failure. Database errors propagate too, except after the
    mail server has taken the e-mail: then SentNotRecorded says so.
    """
    sent = []
    try:
        return _send_locked(email_id=email_id, now=now, sent=sent)
    except DatabaseError as error:
        if not sent:
            raise  # nothing went out: the task may simply try again
        raise SentNotRecorded(email_id=email_id, sent_at=sent[0]) from error


def _send_locked(*, email_id: int, now: datetime | None, sent: list) -> str:
    with transaction.atomic():
        email = CheckinEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != CheckinEmail.Status.PENDING:
            return NOTHING
        invitation = CheckinInvitation.objects.select_related(
            "practice", "client__membership", "plan"
        ).get(pk=email.invitation_id)
        practice = invitation.practice
        now = now or timezone.now()
        if reason := _why_not(email, invitation, now):
            email.status, email.reason = CheckinEmail.Status.SKIPPED, reason
            email.save(update_fields=["status", "reason"])
            return SKIPPED
        until = quiet_until(practice, now)
        if until is not None or email.not_before > now:
            # Too early: the sweeper dispatches it again once `not_before` has passed.
            email.not_before = until or email.not_before
            email.dispatched_at = None
            email.save(update_fields=["not_before", "dispatched_at"])
            return WAITING
        tz = ZoneInfo(practice.time_zone)
        context = {
            "practice": practice,
            "url": checkin_link(invitation),
            "expires_at": timezone.localtime(invitation.expires_at, tz),
            "time_zone": practice.time_zone,
            "is_reminder": email.kind != CheckinEmail.INVITE,
            "preferences_url": settings.SITE_URL
            + reverse("my:checkin_preferences", kwargs={"practice_slug": practice.slug}),
        }
        subject = (
            f"Reminder: your check-in from {practice.name}"
            if context["is_reminder"]
            else f"A short check-in from {practice.name}"
        )
        with timezone.override(tz):  # dates in the e-mail in the practice's time zone
            message = render_to_string("feedback/email/checkin.txt", context)
        EmailMessage(
            subject=subject,
            body=message,
            to=[invitation.client.membership.email],
            headers={"Message-ID": message_id(email)},
        ).send()
        sent.append(now)
        email.status, email.sent_at = CheckinEmail.Status.SENT, now
        email.attempts += 1
        email.last_attempt_at = now
        email.save(update_fields=["status", "sent_at", "attempts", "last_attempt_at"])
    return SENT


def note_failed_attempt(*, email_id: int) -> None:
    """A transient failure: count it, and keep the sweeper off while the retry waits."""
    CheckinEmail.objects.filter(pk=email_id, status=CheckinEmail.Status.PENDING).update(
        attempts=F("attempts") + 1, last_attempt_at=timezone.now()
    )


def record_sent(*, email_id: int, sent_at: datetime) -> bool:
    """Mark an e-mail sent that the mail server took before the database went away
    (SentNotRecorded). False when it was no longer pending."""
    return bool(
        CheckinEmail.objects.filter(pk=email_id, status=CheckinEmail.Status.PENDING).update(
            status=CheckinEmail.Status.SENT, sent_at=sent_at, attempts=F("attempts") + 1,
            last_attempt_at=sent_at,
        )
    )


def record_email_failure(*, email_id: int, reason: str) -> None:
    """Stop trying, and show the care team why (on the client's check-in page)."""
    CheckinEmail.objects.filter(pk=email_id, status=CheckinEmail.Status.PENDING).update(
        status=CheckinEmail.Status.FAILED, failed_at=timezone.now(), reason=reason[:200]
    )


def unsent_filter(now: datetime, grace: timedelta = UNSENT_GRACE) -> Q:
    """Pending e-mails that may go out now and have no send task in flight: never dispatched
    (quiet hours), or dispatched or last tried more than `grace` ago (the message was lost)."""
    stale = now - grace
    return (
        Q(status=CheckinEmail.Status.PENDING, not_before__lte=now)
        & (Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale))
        & (Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=stale))
    )


def release_unsent_emails(
    *, practice: Practice, now: datetime | None = None, grace: timedelta = UNSENT_GRACE
) -> int:
    """The sweeper's work in one practice: dispatch what quiet hours held back or a lost
    message left behind. Safe to repeat: a duplicate task finds the e-mail sent."""
    now = now or timezone.now()
    with transaction.atomic():
        emails = list(
            CheckinEmail.objects.select_for_update(skip_locked=True)
            .filter(unsent_filter(now, grace))
            .order_by("not_before", "id")[:SWEEP_BATCH]
        )
        dispatch(emails, now=now)
    return len(emails)
