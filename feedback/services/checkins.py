"""Check-in invitations: created when a plan's occurrence falls due (one per occurrence, never
two), or by a clinician in session; taken by the client; expired; reminded.

Keyword-only, taking the practice; the practice's scope must be entered already (the views
and Celery tasks do that). Sending e-mail lives in feedback.services.emails.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from accounts.models import Membership
from care.models import CaseloadAssignment, Client, TherapySession
from feedback import schedule
from feedback.models import (
    CheckinEmail,
    CheckinInvitation,
    CheckinPreferences,
    CheckinResponse,
    Instrument,
    InstrumentVersion,
    MeasurementPlan,
)
from feedback.models.plans import LIMITS, SESSION_CADENCES
from feedback.services.emails import queue_email, queue_invitation_emails
from feedback.services.plans import (
    feedback_settings,
    require_care_team,
    require_in_care,
    usable_instrument,
    wants_email,
)
from feedback.services.responses import (
    CheckedAnswers,
    checked_answers,
    checked_parties,
    store_response,
)
from portal.rls.db import rls_bypass
from portal.tenancy.models import Practice

IN_SESSION_TTL = timedelta(hours=2)
# A session marked attended late still gets its check-in, if the check-in would not have
# expired by now; and sessions are at most this long (care's limit is 8 hours).
LONGEST_SESSION = timedelta(hours=8)
LONGEST_EXPIRY = timedelta(days=LIMITS["expiry_days"][1])


class CheckinUnavailable(Exception):
    """The check-in can't be taken: `state` is "expired", "cancelled" or "invalid"."""

    def __init__(self, state: str):
        super().__init__(state)
        self.state = state


@dataclass(frozen=True)
class Completion:
    response: CheckinResponse | None
    created: bool  # False: it had been answered already (a double submit)
    items: list | None = None  # the version's items, as checked (None for a double submit)


def _new_invitation(**fields) -> CheckinInvitation:
    invitation = CheckinInvitation(**fields)
    invitation.assign_new_token()
    return invitation


def _latest_versions(instrument_ids) -> dict[int, InstrumentVersion]:
    latest = {}
    versions = InstrumentVersion.objects.filter(instrument_id__in=set(instrument_ids)).order_by(
        "instrument_id", "number"
    )
    for version in versions:
        latest[version.instrument_id] = version  # the highest number wins
    return latest


def _first_clinicians(client_ids) -> dict[int, int]:
    """Each client's longest-serving active clinician on the care team (the page's name)."""
    found: dict[int, int] = {}
    assignments = (
        CaseloadAssignment.objects.filter(
            client_id__in=set(client_ids),
            ended_at__isnull=True,
            clinician__status=Membership.Status.ACTIVE,
        )
        .order_by("started_at", "id")
        .values_list("client_id", "clinician_id")
    )
    for client_id, clinician_id in assignments:
        found.setdefault(client_id, clinician_id)
    return found


# --- Due invitations (the beat job, per practice) -----------------------------------------------


def due_occurrences(plan: MeasurementPlan, sessions, *, now: datetime, tz: ZoneInfo):
    """The plan's occurrences that are due by `now` and would still be open (not expired)."""
    expiry = timedelta(days=plan.expiry_days)
    if plan.is_session_based:
        found = schedule.session_occurrences(
            cadence=plan.cadence, every=plan.every, sessions=sessions,
            counting_from=max(plan.counting_from, schedule.start_of_day(plan.starts_on, tz)),
            now=now,
        )
    else:
        day = schedule.latest_date_occurrence(
            cadence=plan.cadence, every=plan.every, weekdays=plan.weekdays,
            starts_on=plan.starts_on, counting_from=timezone.localdate(plan.counting_from, tz),
            today=timezone.localdate(now, tz),
        )
        found = [] if day is None else [
            schedule.Occurrence(schedule.date_key(day), schedule.start_of_day(day, tz))
        ]
    return [o for o in found if o.due_at + expiry > now]


def _checked_in_already() -> Exists:
    """For a session inside the plans query (the plan two levels out): the session has the
    check-in that makes it not due for the plan. Either the plan's own, or one not cancelled
    with the plan's instrument, taken in session or by another plan (which
    create_due_invitations skips as `asked`)."""
    plan = OuterRef(OuterRef("pk"))
    instrument = OuterRef(OuterRef("instrument_id"))
    return Exists(
        CheckinInvitation.objects.filter(session_id=OuterRef("pk")).filter(
            Q(plan_id=plan)
            | (Q(instrument_version__instrument_id=instrument)
               & ~Q(status=CheckinInvitation.Status.CANCELLED))
        )
    )


def create_due_invitations(*, practice: Practice, now: datetime | None = None):
    """Create the invitation of every due occurrence of the practice's active plans, once.

    Each is created under the unique (practice, plan, occurrence key), all in one INSERT (one
    by one should that fail), so two jobs racing, or a job repeated, create nothing twice. The
    invitation e-mails are queued after commit (or held until quiet hours end). Returns the
    invitations created.
    """
    now = now or timezone.now()
    tz = ZoneInfo(practice.time_zone)
    created: list[CheckinInvitation] = []
    # A session-based plan has nothing due unless its client attended a session recent enough
    # for that check-in to be open still: every minute, only those plans are read, not all.
    # And of those, only sessions not checked in on yet (by this plan, or in session or by
    # another plan with the same instrument): once a session's invitation exists, its plan is
    # no longer read every minute until its client's next session.
    recent_session = TherapySession.objects.filter(
        client=OuterRef("client_id"),
        status=TherapySession.Status.ATTENDED,
        starts_at__gte=now - LONGEST_EXPIRY - LONGEST_SESSION,
        starts_at__lte=now,
    ).exclude(_checked_in_already())
    with transaction.atomic():
        # Another job working on the same plans skips them rather than waiting.
        plans = list(
            MeasurementPlan.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                ~Q(cadence__in=SESSION_CADENCES) | Exists(recent_session),
                status=MeasurementPlan.Status.ACTIVE,
                instrument__is_enabled=True,  # an instrument turned off is asked of nobody
                client__discharged_at__isnull=True,
                starts_on__lte=timezone.localdate(now, tz),
            )
            .exclude(client__membership__status=Membership.Status.INACTIVE)
            .select_related("client__membership")
        )
        if not plans:
            return created
        session_plans = [p for p in plans if p.is_session_based]
        sessions_by_client: dict[int, list[schedule.SessionFact]] = defaultdict(list)
        session_clinician: dict[int, int] = {}
        if session_plans:
            rows = TherapySession.objects.filter(
                _sessions_that_count(session_plans, now),
                status=TherapySession.Status.ATTENDED,
                starts_at__lte=now,
            ).values_list("pk", "client_id", "starts_at", "duration_minutes", "clinician_id")
            for pk, client_id, starts_at, minutes, clinician_id in rows:
                ends_at = starts_at + timedelta(minutes=minutes)
                sessions_by_client[client_id].append(schedule.SessionFact(pk, starts_at, ends_at))
                session_clinician[pk] = clinician_id
        due = {
            plan.pk: due_occurrences(plan, sessions_by_client[plan.client_id], now=now, tz=tz)
            for plan in plans
        }
        keys = {o.key for occurrences in due.values() for o in occurrences}
        if not keys:
            return created
        taken = set(
            CheckinInvitation.objects.filter(plan__in=plans, occurrence_key__in=keys)
            .values_list("plan_id", "occurrence_key")
        )
        # Most minutes every due occurrence exists already: only new ones are looked at further.
        fresh = {
            plan.pk: [o for o in due[plan.pk] if (plan.pk, o.key) not in taken] for plan in plans
        }
        plans = [plan for plan in plans if fresh[plan.pk]]
        if not plans:
            return created
        # A session already checked in on in session (or by another plan) is not asked again.
        session_ids = {o.session_id for plan in plans for o in fresh[plan.pk] if o.session_id}
        asked = set(
            CheckinInvitation.objects.filter(session_id__in=session_ids)
            .exclude(status=CheckinInvitation.Status.CANCELLED)
            .values_list("session_id", "instrument_version__instrument_id")
        ) if session_ids else set()
        versions = _latest_versions(p.instrument_id for p in plans)
        # The care team's clinician names a date-based check-in; a session's names its own.
        clinicians = _first_clinicians(
            p.client_id for p in plans if any(not o.session_id for o in fresh[p.pk])
        )
        prefs = {
            p.client_id: p
            for p in CheckinPreferences.objects.filter(client_id__in={p.client_id for p in plans})
        }
        new: list[CheckinInvitation] = []
        for plan in plans:
            version = versions.get(plan.instrument_id)
            if version is None:
                continue
            emailed = plan.channel == CheckinInvitation.Channel.EMAIL and wants_email(
                plan.client, prefs.get(plan.client_id)
            )
            for occurrence in fresh[plan.pk]:
                if occurrence.session_id and (occurrence.session_id, plan.instrument_id) in asked:
                    continue
                invitation = _new_invitation(
                    practice=practice,
                    client=plan.client,
                    plan=plan,
                    instrument_version=version,
                    session_id=occurrence.session_id,
                    clinician_id=(
                        session_clinician.get(occurrence.session_id)
                        if occurrence.session_id
                        else clinicians.get(plan.client_id)
                    ),
                    occurrence_key=occurrence.key,
                    channel=(
                        CheckinInvitation.Channel.EMAIL if emailed
                        else CheckinInvitation.Channel.PORTAL
                    ),
                    due_at=occurrence.due_at,
                    expires_at=occurrence.due_at + timedelta(days=plan.expiry_days),
                    created_at=now,
                )
                new.append(invitation)
        created = _insert_invitations(new)
        queue_invitation_emails(
            practice=practice,
            invitations=[i for i in created if i.channel == CheckinInvitation.Channel.EMAIL],
            now=now,
            settings_row=feedback_settings(practice),
        )
    return created


def _sessions_that_count(session_plans: list[MeasurementPlan], now: datetime) -> Q:
    """The attended sessions that may make an occurrence of these plans due now. "Every Nth
    session" counts every session since the plan's counting_from, so those plans' clients
    need them all; for the others only sessions whose check-in would not have expired yet."""
    counted = {
        p.client_id for p in session_plans
        if p.cadence != schedule.EVERY_SESSION and p.every > 1
    }
    window = Q()
    for counts_all in (True, False):
        plans = [p for p in session_plans if (p.client_id in counted) == counts_all]
        if not plans:
            continue
        since = min(p.counting_from for p in plans) - LONGEST_SESSION
        if not counts_all:
            longest_expiry = timedelta(days=max(p.expiry_days for p in plans))
            since = max(since, now - longest_expiry - LONGEST_SESSION)
        window |= Q(client_id__in={p.client_id for p in plans}, starts_at__gte=since)
    return window


def _insert_invitations(invitations: list[CheckinInvitation]) -> list[CheckinInvitation]:
    """Insert new invitations in one statement; those inserted. Should another job have
    created one of them a moment ago (the unique occurrence), one by one, skipping that one."""
    if not invitations:
        return []
    try:
        with transaction.atomic():
            return CheckinInvitation.objects.bulk_create(invitations)
    except IntegrityError:
        pass
    created = []
    for invitation in invitations:
        try:
            with transaction.atomic():
                invitation.save()
        except IntegrityError:  # created by another job a moment ago
            continue
        created.append(invitation)
    return created


# --- In session ------------------------------------------------------------------------------


def _todays_session(client: Client, now: datetime, tz: ZoneInfo) -> TherapySession | None:
    """The session the client is in (or just had) today, if one is booked; just after
    midnight, yesterday evening's session still counts."""
    today = timezone.localdate(now, tz)
    start = min(schedule.start_of_day(today, tz), now - LONGEST_SESSION)
    return (
        TherapySession.objects.filter(
            client=client,
            starts_at__gte=start,
            starts_at__lt=now + timedelta(hours=1),
        )
        .exclude(status__in=[TherapySession.Status.CANCELLED, TherapySession.Status.NO_SHOW])
        .order_by("-starts_at", "-id")
        .first()
    )


def start_in_session_checkin(
    *, practice: Practice, actor: Membership, client: Client, instrument: Instrument
) -> CheckinInvitation:
    """"Check in now": a check-in the client answers on their own phone from a QR code or a
    short link, open for two hours. It answers for today's session (if one is booked), and
    any other open check-in for that session and instrument is cancelled, so the client is
    not asked twice."""
    if actor is None or actor.role not in Membership.STAFF_ROLES:
        raise ValidationError("Only the client's care team can do this.")
    if client.practice_id != practice.pk or instrument.practice_id != practice.pk:
        raise ValidationError("This does not belong to this practice.")
    require_care_team(actor, client)
    require_in_care(client)
    usable_instrument(instrument)
    now = timezone.now()
    tz = ZoneInfo(practice.time_zone)
    version = _latest_versions([instrument.pk])[instrument.pk]
    session = _todays_session(client, now, tz)
    with transaction.atomic():
        invitation = _new_invitation(
            practice=practice,
            client=client,
            plan=None,
            instrument_version=version,
            session=session,
            clinician=actor,
            channel=CheckinInvitation.Channel.IN_SESSION,
            due_at=now,
            expires_at=now + IN_SESSION_TTL,
            created_by=actor,
            created_at=now,
        )
        invitation.occurrence_key = f"now:{invitation.nonce[:16]}"
        invitation.save()
        if session is not None:
            _cancel(
                CheckinInvitation.objects.filter(
                    client=client,
                    session=session,
                    instrument_version__instrument=instrument,
                    status=CheckinInvitation.Status.OPEN,
                ).exclude(pk=invitation.pk),
                now=now,
                reason="Answered in session instead.",
            )
    return invitation


def _cancel(invitations, *, now: datetime, reason: str) -> int:
    ids = list(invitations.values_list("pk", flat=True))
    if not ids:
        return 0
    CheckinInvitation.objects.filter(pk__in=ids, status=CheckinInvitation.Status.OPEN).update(
        status=CheckinInvitation.Status.CANCELLED, closed_at=now
    )
    CheckinEmail.objects.filter(invitation_id__in=ids, status=CheckinEmail.Status.PENDING).update(
        status=CheckinEmail.Status.SKIPPED, reason=reason
    )
    return len(ids)


# --- Taking a check-in -----------------------------------------------------------------------


def find_checkin_by_token(token: str, *, with_client: bool = True) -> CheckinInvitation | None:
    """The invitation a link points at, in whichever practice it belongs to.

    Cross-practice by nature: the link is all the visitor has. The caller enters the practice's
    scope before doing anything else with it. `with_client=False` for a submit, which reads
    the client under complete_checkin's lock anyway (two joins fewer to plan).
    """
    if not token or len(token) > 64:
        return None
    related = ["practice", "clinician__user", "instrument_version__instrument"]
    if with_client:
        related.append("client__membership")
    with rls_bypass():
        return (
            CheckinInvitation.unscoped.select_related(*related)
            .filter(token_hash=CheckinInvitation.hash_token(token))
            .first()
        )


def availability(invitation: CheckinInvitation) -> str:
    """The invitation's state for the person about to answer: an open check-in of a client
    who has left care (or lost access) counts as cancelled."""
    state = invitation.state
    if state == CheckinInvitation.Status.OPEN:
        client = invitation.client
        if client.is_discharged or client.membership.status == Membership.Status.INACTIVE:
            return CheckinInvitation.Status.CANCELLED
    return state


LINK = "link"  # the e-mailed link or the in-session QR code
PORTAL = "portal"


def complete_checkin(
    *,
    practice: Practice,
    invitation: CheckinInvitation,
    answers: dict,
    via: str,
    respondent: Membership | None = None,
) -> Completion:
    """Store the client's answers to an open invitation, once.

    The invitation row is locked first, so of two submits at the same moment one stores the
    response and the other finds the invitation answered (Completion.created False). Bad
    answers raise the same ValidationError as submit_response and nothing is stored; an
    invitation that can no longer be answered raises CheckinUnavailable.
    """
    if via not in (LINK, PORTAL):
        raise ValueError(f"Unknown way of answering: {via}")
    # No savepoint (two round trips): every refusal comes before the first write, so there is
    # nothing to undo. It is raised after the block, so the caller's transaction stays usable
    # (the view shows the form again).
    with transaction.atomic(savepoint=False):
        try:
            ready = _ready_to_store(
                practice=practice, invitation=invitation, answers=answers, via=via,
                respondent=respondent,
            )
        except (CheckinUnavailable, ValidationError) as error:
            refused = error
        else:
            if isinstance(ready, Completion):  # answered already
                return ready
            locked = ready.locked
            response = store_response(
                practice=practice, client=locked.client, checked=ready.checked,
                channel=ready.channel, session=ready.session, respondent=respondent,
                clinician=ready.clinician, client_locked=True,
            )
            locked.status = CheckinInvitation.Status.COMPLETED
            locked.completed_at = response.submitted_at
            locked.response = response
            locked.save(update_fields=["status", "completed_at", "response"])
            CheckinEmail.objects.filter(
                invitation=locked, status=CheckinEmail.Status.PENDING
            ).update(status=CheckinEmail.Status.SKIPPED, reason="The check-in was answered.")
            invitation.status, invitation.response = locked.status, response
            return Completion(response, True, ready.checked.items)
    raise refused


@dataclass(frozen=True)
class _Ready:
    locked: CheckinInvitation  # with its client, both rows locked
    channel: str
    session: TherapySession | None
    clinician: Membership | None
    checked: CheckedAnswers


def _ready_to_store(*, practice, invitation, answers, via, respondent) -> _Ready | Completion:
    """complete_checkin's reads and checks, before anything is written: what to store, or
    the earlier Completion of an answered invitation. Refuses with CheckinUnavailable or
    ValidationError."""
    # The client's row is locked with the invitation: its state is read under the lock, and
    # alert detection needs that lock anyway (one detection per client at a time).
    locked = (
        CheckinInvitation.objects.select_for_update(of=("self", "client"))
        .select_related("client__membership")
        .filter(pk=invitation.pk)
        .first()
    )
    if locked is None or locked.practice_id != practice.pk:
        raise CheckinUnavailable("invalid")
    if locked.status == CheckinInvitation.Status.COMPLETED:
        response = (
            CheckinResponse.objects.filter(pk=locked.response_id).first()
            if locked.response_id else None
        )
        return Completion(response, False)
    if locked.status == CheckinInvitation.Status.CANCELLED:
        raise CheckinUnavailable("cancelled")
    if locked.status == CheckinInvitation.Status.EXPIRED or locked.expires_at <= timezone.now():
        raise CheckinUnavailable("expired")
    client = locked.client
    if client.is_discharged or client.membership.status == Membership.Status.INACTIVE:
        raise CheckinUnavailable("cancelled")
    if via == PORTAL:
        channel = CheckinResponse.Channel.PORTAL
    elif locked.channel == CheckinInvitation.Channel.IN_SESSION:
        channel = CheckinResponse.Channel.IN_SESSION
    else:
        channel = CheckinResponse.Channel.EMAIL
    session = (
        TherapySession.objects.filter(pk=locked.session_id).first()
        if locked.session_id else None
    )
    clinician = None
    if locked.clinician_id and session is None:
        # The caller's invitation usually has it loaded already (the link view does).
        clinician = (
            invitation.clinician if invitation.clinician_id == locked.clinician_id
            else Membership.objects.filter(pk=locked.clinician_id).first()
        )
    # checked_answers re-reads the version under its lock; here only its practice counts.
    version = (
        invitation.instrument_version
        if invitation.instrument_version_id == locked.instrument_version_id
        else InstrumentVersion.objects.get(pk=locked.instrument_version_id)
    )
    clinician = checked_parties(
        practice=practice, client=client, version_id=version.pk,
        version_practice_id=version.practice_id, channel=channel, session=session,
        respondent=respondent, clinician=clinician,
    )
    checked = checked_answers(practice=practice, version_id=version.pk, answers=answers)
    return _Ready(locked, channel, session, clinician, checked)


# --- Expiry and reminders (beat jobs, per practice) --------------------------------------------


def expire_invitations(*, practice: Practice, now: datetime | None = None) -> int:
    """Close open invitations past their expiry; their waiting e-mails are not sent."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            CheckinInvitation.objects.filter(
                status=CheckinInvitation.Status.OPEN, expires_at__lte=now
            ).values_list("pk", flat=True)
        )
        if not ids:
            return 0
        CheckinInvitation.objects.filter(pk__in=ids, status=CheckinInvitation.Status.OPEN).update(
            status=CheckinInvitation.Status.EXPIRED, closed_at=now
        )
        CheckinEmail.objects.filter(
            invitation_id__in=ids, status=CheckinEmail.Status.PENDING
        ).update(status=CheckinEmail.Status.SKIPPED, reason="The check-in expired.")
    return len(ids)


def queue_due_reminders(*, practice: Practice, now: datetime | None = None):
    """Queue the next reminder of every open e-mailed check-in whose last e-mail went out
    `reminder_after_hours` ago, up to the plan's `max_reminders`.

    Not for check-ins answered, closed or in session, plans paused or stopped, or clients who
    paused reminders or stopped check-in e-mails. Each reminder is one row under the unique
    (invitation, kind), so repeating this job queues nothing twice. Returns the e-mails queued.
    """
    now = now or timezone.now()
    quiet_clients = CheckinPreferences.objects.filter(
        Q(reminders_paused=True) | Q(email_opt_out=True)
    ).values("client_id")
    candidates = list(
        CheckinInvitation.objects.filter(
            status=CheckinInvitation.Status.OPEN,
            channel=CheckinInvitation.Channel.EMAIL,
            expires_at__gt=now,
            plan__status=MeasurementPlan.Status.ACTIVE,
            plan__channel=CheckinInvitation.Channel.EMAIL,
            plan__max_reminders__gt=0,
            client__discharged_at__isnull=True,
        )
        .exclude(client_id__in=quiet_clients)
        .exclude(client__preferred_contact=Client.PreferredContact.PORTAL)
        .annotate(last_sent=Max("emails__sent_at"))
        .filter(last_sent__isnull=False)
        .select_related("plan")
    )
    if not candidates:
        return []
    counts: dict[int, list[CheckinEmail]] = defaultdict(list)
    for email in CheckinEmail.objects.filter(invitation__in=candidates):
        counts[email.invitation_id].append(email)
    settings_row = feedback_settings(practice)
    queued = []
    with transaction.atomic():
        for invitation in candidates:
            emails = counts[invitation.pk]
            if any(e.status == CheckinEmail.Status.PENDING for e in emails):
                continue  # the previous one has not gone out yet
            if any(e.status == CheckinEmail.Status.FAILED for e in emails):
                continue  # the address does not work: the care team sees that instead
            number = max(e.reminder_number for e in emails) + 1
            if number > invitation.plan.max_reminders:
                continue
            if invitation.last_sent + timedelta(hours=invitation.plan.reminder_after_hours) > now:
                continue
            email = queue_email(
                practice=practice, invitation=invitation,
                kind=CheckinEmail.reminder_kind(number), now=now, settings_row=settings_row,
            )
            if email is not None:
                queued.append(email)
    return queued
