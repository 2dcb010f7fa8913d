"""Thin Celery tasks for check-ins: load by id, enter the practice scope, call a service.

Beat jobs (portal.settings.CELERY_BEAT_SCHEDULE) find the practices with work in one
deliberately cross-practice query (`unscoped`), then each practice's work runs inside its own
practice scope: creating due invitations fans out as one task per practice.
"""

import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.tasks import TRANSIENT_SMTP_ERRORS
from feedback.models import CheckinEmail, CheckinInvitation, MeasurementPlan
from feedback.services import checkins, emails
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

logger = logging.getLogger(__name__)

MAX_SEND_RETRIES = 8
PERMANENT_FAILURE = "The mail server refused the client's address: check it on the client's record."
GAVE_UP = "The mail server could not be reached after several tries."


def retry_countdown(retries: int) -> int:
    """Exponential backoff from EMAIL_RETRY_BACKOFF_SECONDS (30 s), at most 10 minutes."""
    base = getattr(settings, "EMAIL_RETRY_BACKOFF_SECONDS", 30)
    return min(base * 2**retries, 600)


def _practices(ids) -> list[Practice]:
    return list(Practice.objects.filter(pk__in=set(ids), is_active=True))


# --- Creating due invitations ------------------------------------------------------------------


@shared_task
def dispatch_due_checkins() -> int:
    """Every minute: one create_due_checkins task per practice with an active plan."""
    # Deliberately cross-practice: the beat job fans out to every practice.
    practice_ids = (
        MeasurementPlan.unscoped.filter(
            status=MeasurementPlan.Status.ACTIVE, practice__is_active=True
        )
        .values_list("practice_id", flat=True)
        .distinct()
    )
    count = 0
    for practice_id in practice_ids:
        create_due_checkins.delay(practice_id)
        count += 1
    return count


@shared_task
def create_due_checkins(practice_id: int) -> int:
    practice = Practice.objects.filter(pk=practice_id, is_active=True).first()
    if practice is None:
        return 0
    with practice_scope(practice):
        return len(checkins.create_due_invitations(practice=practice))


# --- Sending -----------------------------------------------------------------------------------


@shared_task(bind=True, max_retries=MAX_SEND_RETRIES)
def send_checkin_email(self, practice_id: int, email_id: int) -> str:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        try:
            return emails.send_checkin_email(email_id=email_id)
        except smtplib.SMTPRecipientsRefused:
            emails.record_email_failure(email_id=email_id, reason=PERMANENT_FAILURE)
            return "failed"
        except TRANSIENT_SMTP_ERRORS as error:
            if self.request.retries >= self.max_retries:
                emails.record_email_failure(email_id=email_id, reason=GAVE_UP)
                return "failed"
            emails.note_failed_attempt(email_id=email_id)
            logger.warning("Check-in e-mail %s: %s; retrying", email_id, type(error).__name__)
            raise self.retry(exc=error, countdown=retry_countdown(self.request.retries))


@shared_task
def sweep_checkin_emails() -> int:
    """Every minute: dispatch e-mails that quiet hours held back, and re-dispatch those whose
    message was lost (a killed worker, a restarted broker)."""
    now = timezone.now()
    # Deliberately cross-practice: which practices have e-mails waiting.
    practice_ids = (
        CheckinEmail.unscoped.filter(emails.unsent_filter(now))
        .values_list("practice_id", flat=True)
        .distinct()
    )
    count = 0
    for practice in _practices(practice_ids):
        with practice_scope(practice):
            count += emails.release_unsent_emails(practice=practice, now=now)
    return count


# --- Reminders and expiry ----------------------------------------------------------------------


@shared_task
def queue_checkin_reminders() -> int:
    """Every five minutes: queue the reminders that are due, practice by practice."""
    now = timezone.now()
    # Deliberately cross-practice: which practices have open e-mailed check-ins.
    practice_ids = (
        CheckinInvitation.unscoped.filter(
            status=CheckinInvitation.Status.OPEN,
            channel=CheckinInvitation.Channel.EMAIL,
            expires_at__gt=now,
        )
        .values_list("practice_id", flat=True)
        .distinct()
    )
    count = 0
    for practice in _practices(practice_ids):
        with practice_scope(practice):
            count += len(checkins.queue_due_reminders(practice=practice, now=now))
    return count


@shared_task
def expire_checkins() -> int:
    """Every five minutes: close check-ins past their expiry, practice by practice."""
    now = timezone.now()
    # Deliberately cross-practice: which practices have check-ins past their expiry.
    practice_ids = (
        CheckinInvitation.unscoped.filter(
            Q(status=CheckinInvitation.Status.OPEN) & Q(expires_at__lte=now)
        )
        .values_list("practice_id", flat=True)
        .distinct()
    )
    count = 0
    for practice in _practices(practice_ids):
        with practice_scope(practice):
            count += checkins.expire_invitations(practice=practice, now=now)
    return count


# --- Alerts (feedback.services.alerts) ----------------------------------------------------------


@shared_task
def escalate_safety_alerts() -> int:
    """Every 5 minutes: one escalation task per practice with an open, unescalated safety alert."""
    from feedback.models import Alert

    # Deliberately cross-practice: the beat job fans out to every practice.
    practice_ids = (
        Alert.unscoped.filter(
            kind=Alert.Kind.SAFETY,
            status=Alert.Status.OPEN,
            escalated_at__isnull=True,
            practice__is_active=True,
        )
        .values_list("practice_id", flat=True)
        .distinct()
    )
    count = 0
    for practice_id in practice_ids:
        escalate_practice_safety_alerts.delay(practice_id)
        count += 1
    return count


@shared_task
def escalate_practice_safety_alerts(practice_id: int) -> int:
    from feedback.services.alerts import escalate_overdue_safety_alerts

    practice = Practice.objects.filter(pk=practice_id, is_active=True).first()
    if practice is None:
        return 0
    with practice_scope(practice):
        return escalate_overdue_safety_alerts(practice=practice)
