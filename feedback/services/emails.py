"""Check-in e-mails: one row per invitation per kind (the invitation, reminder 1, 2, ...), held
back during the practice's quiet hours, sent at most once.

DESIGN.md, "Background work": the row is the idempotency key under a unique constraint. A send
task marks it sent only while it is pending (a conditional UPDATE, which locks the row), sends,
and commits, all in one transaction, so a redelivered, swept or duplicated task finds it sent
and does nothing, and a send that fails rolls the mark back. A sweeper re-dispatches
rows whose message was lost (worker killed, broker restarted) and rows whose quiet hours are
over. E-mails carry no clinical content: the practice's name, the link and when it expires.
"""

import logging
import math
import smtplib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone

from feedback import schedule
from feedback.models import (
    CheckinEmail,
    CheckinInvitation,
    CheckinPreferences,
    FeedbackSettings,
    MeasurementPlan,
)
from feedback.services.plans import feedback_settings, wants_email
from portal.mail import SMTP_ERRORS
from portal.tenancy.context import require_practice
from portal.tenancy.models import Practice

logger = logging.getLogger(__name__)

# Longer than the longest retry countdown, so the sweeper never races a pending retry.
UNSENT_GRACE = timedelta(minutes=15)
SWEEP_BATCH = 500
# E-mails per send task at most (one SMTP connection carries them all) ...
SEND_BATCH = 50
# ... and a dispatch is shared by this many tasks when it has that many e-mails, so every
# worker process takes part and a small dispatch goes out one e-mail per task, as before.
SEND_SPREAD = 8
TEMPLATE = "feedback/email/checkin.txt"
# The database went away (restarted, failed over, a connection cut).
DATABASE_GONE = (OperationalError, InterfaceError)
# Replies about one message (to MAIL, RCPT or DATA): the server is there, the next may go.
MESSAGE_REFUSED = (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)

# What send_checkin_email did.
SENT = "sent"
SKIPPED = "skipped"
WAITING = "waiting"  # quiet hours: the sweeper sends it when they end
NOTHING = "nothing"  # sent, failed or skipped already (a redelivered or duplicate task)
FAILED_HERE = "error"  # an unexpected error (in a batch): still pending, for the sweeper


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


def queue_invitation_emails(
    *,
    practice: Practice,
    invitations: list[CheckinInvitation],
    now: datetime,
    settings_row: FeedbackSettings | None = None,
) -> list[CheckinEmail]:
    """queue_email(kind=INVITE) for invitations made in this transaction, in one INSERT (and
    dispatched as they are created: no UPDATE). The e-mails queued."""
    if not invitations:
        return []
    until = quiet_until(practice, now, settings_row)
    emails = [
        CheckinEmail(
            practice=practice, invitation=invitation, kind=CheckinEmail.INVITE,
            not_before=until or now, dispatched_at=None if until else now, created_at=now,
        )
        for invitation in invitations
    ]
    try:
        with transaction.atomic():
            CheckinEmail.objects.bulk_create(emails)
    except IntegrityError:  # one was queued meanwhile: one by one, skipping that one
        queued = [
            queue_email(practice=practice, invitation=invitation, kind=CheckinEmail.INVITE,
                        now=now, settings_row=settings_row)
            for invitation in invitations
        ]
        return [email for email in queued if email is not None]
    if until is None:
        _send_on_commit(emails)
    return emails


def batches(ids: list[int]) -> list[list[int]]:
    """The e-mails of one dispatch split into send tasks (SEND_BATCH, SEND_SPREAD)."""
    size = min(SEND_BATCH, max(1, math.ceil(len(ids) / SEND_SPREAD)))
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def dispatch(emails: list[CheckinEmail], *, now: datetime) -> None:
    """Queue the e-mails' send tasks after commit, noting when (for the sweeper)."""
    if not emails:
        return
    CheckinEmail.objects.filter(pk__in=[e.pk for e in emails]).update(dispatched_at=now)
    _send_on_commit(emails)


def _send_on_commit(emails: list[CheckinEmail]) -> None:
    from feedback.tasks import send_checkin_emails

    by_practice = defaultdict(list)
    for email in emails:
        by_practice[email.practice_id].append(email.pk)
    for practice_id, ids in by_practice.items():
        for batch in batches(ids):
            send_checkin_emails.delay_on_commit(practice_id, batch)


def _why_not(email: CheckinEmail, invitation: CheckinInvitation, now: datetime) -> str:
    """Why this e-mail must not go out (any more), or "" when it may."""
    if invitation.status == CheckinInvitation.Status.COMPLETED:
        return "The check-in was answered."
    if invitation.status != CheckinInvitation.Status.OPEN or invitation.expires_at <= now:
        return "The check-in had closed."
    client = invitation.client
    if client.is_discharged:
        return "The client's time in care had ended."
    prefs = _preferences(email, client)
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


def _preferences(email: CheckinEmail, client) -> CheckinPreferences:
    """The client's choices, as read with the e-mail (_with_context)."""
    return CheckinPreferences(
        practice_id=client.practice_id, client=client,
        email_opt_out=bool(email.email_opt_out), reminders_paused=bool(email.reminders_paused),
    )


def _with_context(email_ids: list[int]) -> dict[int, CheckinEmail]:
    """The e-mails with their invitation, client, plan and the client's choices (no row: the
    defaults), in one query for a whole batch. Read without a lock: _send_one claims each
    e-mail by a conditional UPDATE, and the invitation and choices checked here were never
    locked by sending (a check-in answered a moment later is answered on the page)."""
    prefs = CheckinPreferences.objects.filter(client_id=OuterRef("invitation__client_id"))
    found = (
        CheckinEmail.objects.select_related("invitation__client__membership", "invitation__plan")
        .annotate(
            email_opt_out=Subquery(prefs.values("email_opt_out")[:1]),
            reminders_paused=Subquery(prefs.values("reminders_paused")[:1]),
        )
        .filter(pk__in=email_ids)
        .order_by()
    )
    return {email.pk: email for email in found}


def _claim(email: CheckinEmail, **changes) -> bool:
    """Change a pending e-mail, in the caller's transaction; False when it is no longer pending.
    The UPDATE locks the row until commit: a second sender of the same e-mail waits, then finds
    it sent (or pending again, if this transaction rolled back)."""
    return bool(
        CheckinEmail.objects.filter(pk=email.pk, status=CheckinEmail.Status.PENDING).update(
            **changes
        )
    )


class _Shared:
    """What every e-mail of the practice in scope shares, loaded once (per batch)."""

    def __init__(self, practice: Practice):
        self.practice = practice
        self.tz = ZoneInfo(practice.time_zone)

    @cached_property
    def settings_row(self) -> FeedbackSettings:
        return feedback_settings(self.practice)

    @cached_property
    def template(self):
        return get_template(TEMPLATE)

    @cached_property
    def preferences_url(self) -> str:
        return settings.SITE_URL + reverse(
            "my:checkin_preferences", kwargs={"practice_slug": self.practice.slug}
        )


class _Connection:
    """A batch's mail connection: opened by the first send and kept for the next ones."""

    def __init__(self):
        self.backend = mailers.default
        # SMTP keeps one connection for the batch. The other backends (the embedded default
        # writes one file per connection, and promises one file per message) open and close
        # around each message, as before.
        self.kept = isinstance(self.backend, SmtpBackend)

    @property
    def is_open(self) -> bool:
        return self.kept and self.backend.connection is not None

    def send(self, message: EmailMessage) -> None:
        if self.kept:
            self.backend.open()
        self.backend.send_messages([message])

    def close(self) -> None:
        if self.kept:
            try:
                self.backend.close()
            except (*SMTP_ERRORS, OSError):
                pass  # it is closed either way


def send_checkin_email(*, email_id: int, now: datetime | None = None) -> str:
    """Send one check-in e-mail at most once (see the module docstring); what happened.

    SMTP errors propagate (nothing is marked): the task retries transient ones and records
    permanent ones with record_email_failure. Database errors propagate too, except after the
    mail server has taken the e-mail: then SentNotRecorded says so.
    """
    sent = []
    try:
        email = _with_context([email_id]).get(email_id)
        return _send_one(email, now=now, sent=sent, shared=_Shared(require_practice()),
                         connection=None)
    except DatabaseError as error:
        if not sent:
            raise  # nothing went out: the task may simply try again
        raise SentNotRecorded(email_id=email_id, sent_at=sent[0]) from error


@dataclass
class Batch:
    """What send_checkin_emails did, e-mail by e-mail."""

    done: dict[int, str] = field(default_factory=dict)  # SENT, ..., NOTHING or FAILED_HERE
    smtp_errors: list[tuple[int, Exception]] = field(default_factory=list)  # nothing marked
    not_tried: list[int] = field(default_factory=list)  # the server or the database was gone
    database_error: Exception | None = None  # the database went away: the rest waits for it
    unrecorded: SentNotRecorded | None = None  # sent, but the database went away first

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(self.done.values()))


def send_checkin_emails(*, email_ids: list[int], now: datetime | None = None) -> Batch:
    """Send several e-mails of the practice in scope over one SMTP connection, each as
    send_checkin_email sends one (its own transaction, its row locked).

    Errors do not stop the batch but are reported in it: an SMTP error leaves that e-mail
    unmarked and the next one goes over a new connection; when even a new connection fails,
    the server is down and the rest is left untried. The database going away leaves the rest
    untried; a database error after the server took the e-mail is `unrecorded`; any other
    database error propagates, as it does for one e-mail.
    """
    batch = Batch()
    shared = _Shared(require_practice())
    try:
        found = _with_context(email_ids)
    except DATABASE_GONE as error:
        batch.database_error, batch.not_tried = error, list(email_ids)
        return batch
    connection = _Connection()
    try:
        for position, email_id in enumerate(email_ids):
            sent = []
            reused = connection.is_open
            try:
                batch.done[email_id] = _send_one(
                    found.get(email_id), now=now, sent=sent, shared=shared, connection=connection
                )
            except SMTP_ERRORS as error:
                batch.smtp_errors.append((email_id, error))
                connection.close()  # the next e-mail starts on a clean connection
                if not reused and not isinstance(error, MESSAGE_REFUSED):
                    batch.not_tried = list(email_ids[position + 1 :])
                    break
            except DatabaseError as error:
                if sent:
                    batch.unrecorded = SentNotRecorded(email_id=email_id, sent_at=sent[0])
                elif not isinstance(error, DATABASE_GONE):
                    raise
                batch.database_error = error
                batch.not_tried = list(email_ids[position + (1 if sent else 0) :])
                break
            except Exception as error:  # a bug with one e-mail must not hold up the others
                logger.error("Check-in e-mail %s: %s; left for the sweeper", email_id,
                             type(error).__name__)  # the type only: messages may hold addresses
                batch.done[email_id] = FAILED_HERE
                connection.close()
    finally:
        connection.close()
    return batch


def _send_one(
    email: CheckinEmail | None, *, now: datetime | None, sent: list, shared: _Shared,
    connection: _Connection | None,
) -> str:
    """Send one e-mail (read by _with_context) at most once: claimed, sent and marked in one
    transaction, so a crash before the commit leaves it pending for the sweeper."""
    if email is None or email.status != CheckinEmail.Status.PENDING:
        return NOTHING
    invitation = email.invitation
    now = now or timezone.now()
    with transaction.atomic():
        if reason := _why_not(email, invitation, now):
            claimed = _claim(email, status=CheckinEmail.Status.SKIPPED, reason=reason)
            return SKIPPED if claimed else NOTHING
        until = quiet_until(shared.practice, now, shared.settings_row)
        if until is not None or email.not_before > now:
            # Too early: the sweeper dispatches it again once `not_before` has passed.
            claimed = _claim(email, not_before=until or email.not_before, dispatched_at=None)
            return WAITING if claimed else NOTHING
        if not _claim(
            email, status=CheckinEmail.Status.SENT, sent_at=now,
            attempts=F("attempts") + 1, last_attempt_at=now,
        ):
            return NOTHING
        message = _message(email, invitation, shared)
        if connection is None:
            message.send()
        else:
            connection.send(message)
        sent.append(now)
    return SENT


def _message(email: CheckinEmail, invitation: CheckinInvitation, shared: _Shared) -> EmailMessage:
    practice = shared.practice
    is_reminder = email.kind != CheckinEmail.INVITE
    context = {
        "practice": practice,
        "url": checkin_link(invitation),
        "expires_at": timezone.localtime(invitation.expires_at, shared.tz),
        "time_zone": practice.time_zone,
        "is_reminder": is_reminder,
        "preferences_url": shared.preferences_url,
    }
    subject = (
        f"Reminder: your check-in from {practice.name}"
        if is_reminder
        else f"A short check-in from {practice.name}"
    )
    with timezone.override(shared.tz):  # dates in the e-mail in the practice's time zone
        body = shared.template.render(context)
    return EmailMessage(
        subject=subject,
        body=body,
        to=[invitation.client.membership.email],
        headers={"Message-ID": message_id(email)},
    )


def note_failed_attempt(*, email_id: int) -> None:
    """A transient failure: count it, and keep the sweeper off while the retry waits."""
    note_failed_attempts(email_ids=[email_id])


def note_failed_attempts(*, email_ids: list[int]) -> None:
    CheckinEmail.objects.filter(pk__in=email_ids, status=CheckinEmail.Status.PENDING).update(
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
    record_email_failures(email_ids=[email_id], reason=reason)


def record_email_failures(*, email_ids: list[int], reason: str) -> None:
    CheckinEmail.objects.filter(pk__in=email_ids, status=CheckinEmail.Status.PENDING).update(
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
