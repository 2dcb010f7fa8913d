"""Thin Celery tasks for check-ins: load by id, enter the practice scope, call a service.

Beat jobs (portal.settings.CELERY_BEAT_SCHEDULE) find the practices with work in one
deliberately cross-practice query (`unscoped`), then each practice's work runs inside its own
practice scope: creating due invitations fans out as one task per practice.
"""

import logging
import smtplib
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from feedback.models import CheckinEmail, CheckinInvitation, MeasurementPlan
from feedback.services import checkins, emails
from portal.rls.db import rls_bypass
from portal.mail import SMTP_ERRORS, is_permanent
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

logger = logging.getLogger(__name__)

MAX_SEND_RETRIES = 8
PERMANENT_FAILURE = "The mail server refused the client's address: check it on the client's record."
GAVE_UP = "The mail server could not be reached after several tries."
REFUSED = "The mail server refused the message for good."


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
    with rls_bypass():
        practice_ids = list(
            MeasurementPlan.unscoped.filter(
                status=MeasurementPlan.Status.ACTIVE, practice__is_active=True
            )
            .order_by()  # no model ordering: DISTINCT gives one row per practice
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


def permanent_smtp_failure(error: Exception) -> str:
    """Why the mail server refused the e-mail for good (a 5xx reply), or "" when trying again
    later may work: a 4xx reply (greylisting, a full mailbox, a busy server) is temporary at
    every stage (RFC 5321, 4.2.1), including a 4xx to RCPT TO or MAIL FROM."""
    if not is_permanent(error):
        return ""
    return PERMANENT_FAILURE if isinstance(error, smtplib.SMTPRecipientsRefused) else REFUSED


# The database went away (restarted, failed over, a connection cut): nothing was sent.
DATABASE_GONE = emails.DATABASE_GONE


@shared_task(bind=True, max_retries=MAX_SEND_RETRIES)
def send_checkin_emails(self, practice_id: int, email_ids: list[int]) -> dict:
    """Send a batch of check-in e-mails over one SMTP connection; how many went which way.

    The rules of send_checkin_email, for the batch: permanent refusals are recorded; the
    e-mails refused for now (or left untried because the server or the database was gone) are
    retried together with backoff, by a retry of this task with only them in it; an e-mail the
    server took but the database could not mark goes to send_checkin_email to be recorded.
    """
    again = list(email_ids)  # what a retry must still do
    try:
        practice = Practice.objects.get(pk=practice_id)
        with practice_scope(practice):
            batch = emails.send_checkin_emails(email_ids=email_ids)
            if batch.unrecorded is not None:
                _record_later(practice_id, batch.unrecorded, self.request.retries)
            again = [*(email_id for email_id, _ in batch.smtp_errors), *batch.not_tried]
            if batch.database_error is not None:
                raise batch.database_error
            transient = None
            for email_id, error in batch.smtp_errors:
                if reason := permanent_smtp_failure(error):
                    emails.record_email_failure(email_id=email_id, reason=reason)
                    again.remove(email_id)
                else:
                    transient = transient or error
            if not again:
                return batch.counts
            if self.request.retries >= self.max_retries:
                emails.record_email_failures(email_ids=again, reason=GAVE_UP)
                return batch.counts | {"failed": len(again)}
            emails.note_failed_attempts(email_ids=again)
            logger.warning("Check-in e-mails %s: %s; retrying", again, type(transient).__name__)
            raise self.retry(args=(practice_id, again), exc=transient,
                             countdown=retry_countdown(self.request.retries))
    except DATABASE_GONE as error:
        logger.warning("Check-in e-mails %s: database unavailable; retrying", again)
        raise self.retry(args=(practice_id, again), exc=error,
                         countdown=retry_countdown(self.request.retries))


def _record_later(practice_id: int, unrecorded: emails.SentNotRecorded, retries: int) -> None:
    """Hand an e-mail the server took, but the database could not mark, to send_checkin_email's
    retry that only records it (sending it again would deliver it twice)."""
    logger.warning("Check-in e-mail %s sent but not recorded; retrying", unrecorded.email_id)
    send_checkin_email.apply_async(
        (practice_id, unrecorded.email_id), {"sent_at": unrecorded.sent_at.isoformat()},
        countdown=retry_countdown(retries), retries=retries + 1,
    )


@shared_task(bind=True, max_retries=MAX_SEND_RETRIES)
def send_checkin_email(self, practice_id: int, email_id: int, sent_at: str = "") -> str:
    """Send one check-in e-mail (a retry of one, or a message queued before sends went in
    batches). `sent_at` (set by a retry): the mail server took it already and only marking it
    sent is left."""
    try:
        practice = Practice.objects.get(pk=practice_id)
        with practice_scope(practice):
            if sent_at:
                emails.record_sent(email_id=email_id, sent_at=datetime.fromisoformat(sent_at))
                return "recorded"
            try:
                return emails.send_checkin_email(email_id=email_id)
            except SMTP_ERRORS as error:
                if reason := permanent_smtp_failure(error):
                    emails.record_email_failure(email_id=email_id, reason=reason)
                    return "failed"
                if self.request.retries >= self.max_retries:
                    emails.record_email_failure(email_id=email_id, reason=GAVE_UP)
                    return "failed"
                emails.note_failed_attempt(email_id=email_id)
                logger.warning("Check-in e-mail %s: %s; retrying", email_id,
                               type(error).__name__)
                raise self.retry(exc=error, countdown=retry_countdown(self.request.retries))
    except emails.SentNotRecorded as unrecorded:
        # Retry only the bookkeeping: sending again would deliver it twice.
        logger.warning("Check-in e-mail %s sent but not recorded; retrying", email_id)
        raise self.retry(
            kwargs={"sent_at": unrecorded.sent_at.isoformat()},
            countdown=retry_countdown(self.request.retries),
            max_retries=MAX_SEND_RETRIES + 4,  # losing this means a second e-mail later
        )
    except DATABASE_GONE as error:
        # Without this the message would be acked as failed and wait for the sweeper.
        logger.warning("Check-in e-mail %s: database unavailable; retrying", email_id)
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries))


@shared_task
def sweep_checkin_emails() -> int:
    """Every minute: dispatch e-mails that quiet hours held back, and re-dispatch those whose
    message was lost (a killed worker, a restarted broker)."""
    now = timezone.now()
    # Deliberately cross-practice: which practices have e-mails waiting.
    with rls_bypass():
        practice_ids = list(
            CheckinEmail.unscoped.filter(emails.unsent_filter(now))
            .order_by()  # no model ordering: DISTINCT gives one row per practice
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
    with rls_bypass():
        practice_ids = list(
            CheckinInvitation.unscoped.filter(
                status=CheckinInvitation.Status.OPEN,
                channel=CheckinInvitation.Channel.EMAIL,
                expires_at__gt=now,
            )
            .order_by()  # no model ordering: DISTINCT gives one row per practice
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
    with rls_bypass():
        practice_ids = list(
            CheckinInvitation.unscoped.filter(
                Q(status=CheckinInvitation.Status.OPEN) & Q(expires_at__lte=now)
            )
            .order_by()  # no model ordering: DISTINCT gives one row per practice
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
    with rls_bypass():
        practice_ids = list(
            Alert.unscoped.filter(
                kind=Alert.Kind.SAFETY,
                status=Alert.Status.OPEN,
                escalated_at__isnull=True,
                practice__is_active=True,
            )
            .order_by()  # no model ordering: DISTINCT gives one row per practice
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


# --- Trend reports (nightly fan-out per practice, then per clinician) ------------------------


@shared_task
def compute_nightly_reports() -> int:
    """Nightly: open one report run per active practice (once per day: a re-run does nothing)."""
    from feedback.services import reports

    count = 0
    # Deliberately cross-practice: the beat job fans out to every practice.
    for practice in Practice.objects.filter(is_active=True).order_by("pk"):
        with practice_scope(practice):
            _, created = reports.start_run(practice=practice, actor=None)
        count += created
    return count


REPORT_BATCH = 50  # clinicians computed together in one task (the same queries as one)


@shared_task
def fan_out_report_run(practice_id: int, run_id: int) -> int:
    """One task for the practice as a whole, then one per batch of clinicians."""
    from feedback.services import reports

    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        ids = list(reports.report_subjects().values_list("pk", flat=True))
    batches = [None] + [ids[i : i + REPORT_BATCH] for i in range(0, len(ids), REPORT_BATCH)]
    for batch in batches:
        compute_report_batch.delay(practice_id, run_id, batch)
    return len(batches)


@shared_task
def compute_report_batch(practice_id: int, run_id: int, clinician_ids: list[int] | None) -> int:
    from accounts.models import Membership
    from feedback.models import ReportRun
    from feedback.services import reports

    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        clinicians = None
        if clinician_ids is not None:
            # Someone removed since the run started has nothing left to report.
            clinicians = list(Membership.objects.filter(pk__in=clinician_ids))
        written = reports.compute_reports(practice=practice, clinicians=clinicians)
        run = ReportRun.objects.filter(pk=run_id).first()
        if run is not None:
            reports.finish_run_if_complete(run=run)
    return written


# --- Weekly digest -----------------------------------------------------------------------------


@shared_task
def queue_weekly_digests() -> int:
    """Weekly: one digest per active clinician of every active practice (idempotent per week)."""
    from feedback.services import digest

    count = 0
    for practice in Practice.objects.filter(is_active=True).order_by("pk"):
        with practice_scope(practice):
            count += digest.queue_digests(practice=practice)
    return count


@shared_task(bind=True, max_retries=MAX_SEND_RETRIES)
def send_weekly_digest(self, practice_id: int, digest_id: int) -> str:
    from feedback.services import digest

    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        try:
            return digest.send_digest(digest_id=digest_id)
        except SMTP_ERRORS as error:
            if permanent_smtp_failure(error) or self.request.retries >= self.max_retries:
                digest.record_failure(digest_id=digest_id)
                return "failed"
            logger.warning("Digest %s: %s; retrying", digest_id, type(error).__name__)
            raise self.retry(exc=error, countdown=retry_countdown(self.request.retries))
