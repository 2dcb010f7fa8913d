"""Writes for check-in settings: the practice's defaults, measurement plans, and the client's own
check-in preferences. Keyword-only, taking the practice and the acting member; the practice's
scope must be entered already. Every check that protects the data lives here.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership
from care.models import CaseloadAssignment, Client
from feedback.models import (
    Cadence,
    Channel,
    CheckinPreferences,
    FeedbackSettings,
    Instrument,
    InstrumentVersion,
    MeasurementPlan,
)
from feedback.models.plans import LIMITS
from portal.tenancy.models import Practice

PLAN_FIELDS = (
    "cadence",
    "every",
    "weekdays",
    "channel",
    "reminder_after_hours",
    "max_reminders",
    "expiry_days",
)
SETTINGS_FIELDS = (
    "default_cadence",
    "default_every",
    "default_weekdays",
    "default_channel",
    "reminder_after_hours",
    "max_reminders",
    "expiry_days",
    "quiet_hours_start",
    "quiet_hours_end",
)


# --- checks ---------------------------------------------------------------------------------


def require_care_team(actor: Membership | None, client: Client) -> None:
    """Staff who may set up a client's check-ins: any admin, or a clinician on the care team.
    `actor` None is the system itself (the demo seed, a management command)."""
    if actor is None:
        return
    if actor.practice_id != client.practice_id or actor.status != Membership.Status.ACTIVE:
        raise ValidationError("Only the client's care team can do this.")
    if actor.role == Membership.Role.ADMIN:
        return
    if (
        actor.role == Membership.Role.CLINICIAN
        and CaseloadAssignment.objects.filter(
            client=client, clinician=actor, ended_at__isnull=True
        ).exists()
    ):
        return
    raise ValidationError("Only the client's care team can do this.")


def require_in_care(client: Client) -> None:
    if client.is_discharged:
        raise ValidationError(
            "This client's time in care has ended, so no check-ins can be set up."
        )


def _int_in(errors: dict, field: str, value, label: str, limits_key: str | None = None):
    lo, hi = LIMITS[limits_key or field]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        errors[field] = f"{label} must be a whole number from {lo} to {hi}."
        return None
    return value


def clean_schedule(values: dict, *, prefix: str = "") -> dict:
    """Check cadence, N, weekdays, channel, reminders and expiry; one ValidationError keyed by
    field (with `prefix`, e.g. "default_", for the settings' names)."""
    errors: dict[str, str] = {}
    cleaned = {}
    cadence = values.get(f"{prefix}cadence")
    if cadence not in Cadence.values:
        errors[f"{prefix}cadence"] = "Choose how often to ask."
    cleaned["cadence"] = cadence
    cleaned["every"] = _int_in(errors, f"{prefix}every", values.get(f"{prefix}every"),
                               "“N”", "every")
    if cadence == Cadence.EVERY_SESSION:
        cleaned["every"] = 1
    raw_days = values.get(f"{prefix}weekdays") or []
    try:
        weekdays = sorted({int(day) for day in raw_days})
    except (TypeError, ValueError):
        weekdays = None
    if weekdays is None or any(not 0 <= day <= 6 for day in weekdays):
        errors[f"{prefix}weekdays"] = "Choose days of the week from the list."
    elif cadence == Cadence.WEEKDAYS and not weekdays:
        errors[f"{prefix}weekdays"] = "Choose at least one day of the week."
    cleaned["weekdays"] = weekdays if cadence == Cadence.WEEKDAYS else []
    channel = values.get(f"{prefix}channel")
    if channel not in Channel.values:
        errors[f"{prefix}channel"] = "Choose how the client is asked."
    cleaned["channel"] = channel
    hours = _int_in(errors, "reminder_after_hours", values.get("reminder_after_hours"),
                    "The wait before a reminder")
    most = _int_in(errors, "max_reminders", values.get("max_reminders"),
                   "The number of reminders")
    days = _int_in(errors, "expiry_days", values.get("expiry_days"),
                   "The days a check-in stays open")
    if hours and most and days and hours >= days * 24:
        errors["reminder_after_hours"] = (
            "A reminder would come after the check-in has closed: wait fewer hours, or keep "
            "check-ins open longer."
        )
    cleaned.update(reminder_after_hours=hours, max_reminders=most, expiry_days=days)
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- practice defaults ------------------------------------------------------------------------


def feedback_settings(practice: Practice) -> FeedbackSettings:
    """The practice's check-in settings; the defaults (unsaved) if it never changed them.
    Reading never writes: a page that only shows settings changes nothing."""
    found = FeedbackSettings.objects.filter(practice=practice).first()
    return found if found is not None else FeedbackSettings(practice=practice)


def update_feedback_settings(
    *, practice: Practice, actor: Membership | None, **values
) -> FeedbackSettings:
    """Save the practice's defaults (admins only; `actor` None is the system, e.g. a seed).

    Only the settings given change (quiet hours None: none). New plans start from these
    values; existing plans keep their own. Quiet hours apply from the next e-mail on.
    """
    if actor is not None and (
        actor.practice_id != practice.pk or actor.role != Membership.Role.ADMIN
    ):
        raise ValidationError("Only a practice admin can change the practice's check-in settings.")
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        row, _ = FeedbackSettings.objects.select_for_update().get_or_create(practice=practice)
        values = {f: getattr(row, f) for f in SETTINGS_FIELDS} | values
        cleaned = clean_schedule(values, prefix="default_")
        start, end = values["quiet_hours_start"], values["quiet_hours_end"]
        if (start is None) != (end is None):
            raise ValidationError(
                {"quiet_hours_end": "Give both the start and the end of quiet hours, or neither."}
            )
        row.default_cadence = cleaned["cadence"]
        row.default_every = cleaned["every"]
        row.default_weekdays = cleaned["weekdays"]
        row.default_channel = cleaned["channel"]
        row.reminder_after_hours = cleaned["reminder_after_hours"]
        row.max_reminders = cleaned["max_reminders"]
        row.expiry_days = cleaned["expiry_days"]
        row.quiet_hours_start, row.quiet_hours_end = start, end
        row.updated_at, row.updated_by = timezone.now(), actor
        row.save()
    return row


def plan_defaults(practice: Practice) -> dict:
    """A new plan's values, from the practice's settings."""
    s = feedback_settings(practice)
    return {
        "cadence": s.default_cadence,
        "every": s.default_every,
        "weekdays": list(s.default_weekdays),
        "channel": s.default_channel,
        "reminder_after_hours": s.reminder_after_hours,
        "max_reminders": s.max_reminders,
        "expiry_days": s.expiry_days,
    }


# --- measurement plans ------------------------------------------------------------------------


def usable_instrument(instrument: Instrument) -> Instrument:
    if not instrument.is_enabled:
        raise ValidationError(
            {"instrument": f"{instrument.name} is turned off for the practice."}
        )
    if not InstrumentVersion.objects.filter(instrument=instrument).exists():
        raise ValidationError({"instrument": f"{instrument.name} has no questions yet."})
    return instrument


def _local_today(practice: Practice) -> date:
    return timezone.localdate(timezone.now(), timezone=ZoneInfo(practice.time_zone))


def create_measurement_plan(
    *,
    practice: Practice,
    actor: Membership | None,
    client: Client,
    instrument: Instrument,
    starts_on: date | None = None,
    **values,
) -> MeasurementPlan:
    """Ask `client` `instrument` on a schedule. Values not given come from the practice's
    defaults (see plan_defaults). The first check-in falls due at the first occurrence on or
    after `starts_on` (default: today) and after now: nothing in the past is caught up."""
    if client.practice_id != practice.pk or instrument.practice_id != practice.pk:
        raise ValidationError("This does not belong to this practice.")
    require_care_team(actor, client)
    require_in_care(client)
    usable_instrument(instrument)
    unknown = set(values) - set(PLAN_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown plan settings: {', '.join(sorted(unknown))}.")
    merged = plan_defaults(practice) | {k: v for k, v in values.items() if v is not None}
    cleaned = clean_schedule(merged)
    now = timezone.now()
    starts_on = starts_on or _local_today(practice)
    if MeasurementPlan.objects.filter(client=client, instrument=instrument).exclude(
        status=MeasurementPlan.Status.STOPPED
    ).exists():
        raise ValidationError(
            {"instrument": f"{client.first_name} already has a plan for {instrument.name}: "
                           "change that one instead."}
        )
    try:
        with transaction.atomic():
            return MeasurementPlan.objects.create(
                practice=practice,
                client=client,
                instrument=instrument,
                starts_on=starts_on,
                counting_from=now,
                created_by=actor,
                created_at=now,
                updated_by=actor,
                updated_at=now,
                status_changed_at=now,
                **cleaned,
            )
    except IntegrityError:  # a double submit, or a colleague a moment earlier
        raise ValidationError(
            {"instrument": f"{client.first_name} already has a plan for {instrument.name}."}
        )


def update_measurement_plan(
    *, practice: Practice, actor: Membership | None, plan: MeasurementPlan,
    starts_on: date | None = None, **values
) -> MeasurementPlan:
    """Change a plan's schedule, channel, reminders or expiry (not its instrument: stop it and
    start another). Invitations already sent keep the values they were sent with."""
    require_care_team(actor, plan.client)
    unknown = set(values) - set(PLAN_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown plan settings: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        plan = MeasurementPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status == MeasurementPlan.Status.STOPPED:
            raise ValidationError("This plan has been stopped. Start a new one instead.")
        current = {f: getattr(plan, f) for f in PLAN_FIELDS}
        cleaned = clean_schedule(current | {k: v for k, v in values.items() if v is not None})
        for field, value in cleaned.items():
            setattr(plan, field, value)
        if starts_on is not None:
            plan.starts_on = starts_on
        plan.updated_by, plan.updated_at = actor, timezone.now()
        plan.save()
    return plan


PLAN_ACTIONS = {
    "pause": MeasurementPlan.Status.PAUSED,
    "resume": MeasurementPlan.Status.ACTIVE,
    "stop": MeasurementPlan.Status.STOPPED,
}


def set_plan_status(
    *, practice: Practice, actor: Membership | None, plan: MeasurementPlan, action: str
) -> MeasurementPlan:
    """Pause (nothing new is sent; open check-ins stay open), resume (counting starts again
    now, without catching up on what happened while paused) or stop a plan for good."""
    if action not in PLAN_ACTIONS:
        raise ValidationError("Choose to pause, resume or stop the plan.")
    require_care_team(actor, plan.client)
    target = PLAN_ACTIONS[action]
    with transaction.atomic():
        plan = MeasurementPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status == target:
            return plan  # a double submit
        if plan.status == MeasurementPlan.Status.STOPPED:
            raise ValidationError("This plan has been stopped. Start a new one instead.")
        now = timezone.now()
        if target == MeasurementPlan.Status.ACTIVE:
            require_in_care(plan.client)
            plan.counting_from = now
        plan.status, plan.status_changed_at = target, now
        plan.updated_by, plan.updated_at = actor, now
        plan.save()
    return plan


def ensure_measurement_plan(
    *,
    practice: Practice,
    client: Client,
    instrument_key: str = "session-checkin",
    actor: Membership | None = None,
    enable_instrument: bool = False,
    count_from: datetime | None = None,
    **values,
) -> MeasurementPlan:
    """The client's open plan for the instrument with `instrument_key`, created with `values`
    (and the practice's defaults) when there is none. Idempotent: for seeds and scripts.

    With `enable_instrument`, a shipped instrument that is off (PHQ-9, GAD-7) is turned on.
    With `count_from` (seeds only), sessions attended since then count too, as if the plan had
    existed: the next run of the beat job invites for those whose check-in would still be open.
    """
    instrument = Instrument.objects.get(key=instrument_key)
    existing = (
        MeasurementPlan.objects.filter(client=client, instrument=instrument)
        .exclude(status=MeasurementPlan.Status.STOPPED)
        .first()
    )
    if existing is not None:
        return existing
    if enable_instrument and not instrument.is_enabled:
        Instrument.objects.filter(pk=instrument.pk).update(is_enabled=True)
        instrument.is_enabled = True
    if count_from is not None:
        values.setdefault("starts_on", timezone.localdate(count_from, ZoneInfo(practice.time_zone)))
    plan = create_measurement_plan(
        practice=practice, actor=actor, client=client, instrument=instrument, **values
    )
    if count_from is not None:
        MeasurementPlan.objects.filter(pk=plan.pk).update(counting_from=count_from)
        plan.counting_from = count_from
    return plan


# --- the client's preferences -----------------------------------------------------------------


def checkin_preferences(client: Client) -> CheckinPreferences:
    """The client's choices; the defaults (unsaved) if they never changed them."""
    found = CheckinPreferences.objects.filter(client=client).first()
    return found if found is not None else CheckinPreferences(practice_id=client.practice_id,
                                                              client=client)


def update_checkin_preferences(
    *, practice: Practice, actor: Membership, client: Client, reminders_paused: bool,
    email_opt_out: bool,
) -> CheckinPreferences:
    """The client pauses reminders or stops check-in e-mails (only the client, for themself).
    E-mails still waiting to go out are held back from the next send on."""
    if (
        actor is None
        or actor.role != Membership.Role.CLIENT
        or client.membership_id != actor.pk
        or client.practice_id != practice.pk
    ):
        raise ValidationError("Only the client can change these choices.")
    with transaction.atomic():
        prefs, _ = CheckinPreferences.objects.select_for_update().get_or_create(
            practice=practice, client=client
        )
        prefs.reminders_paused = bool(reminders_paused)
        prefs.email_opt_out = bool(email_opt_out)
        prefs.updated_at = timezone.now()
        prefs.save()
    return prefs


def wants_email(client: Client, prefs: CheckinPreferences | None) -> bool:
    """May check-in e-mails go to this client at all?"""
    if prefs is not None and prefs.email_opt_out:
        return False
    if client.preferred_contact == Client.PreferredContact.PORTAL:
        return False
    return client.membership.status != Membership.Status.INACTIVE
