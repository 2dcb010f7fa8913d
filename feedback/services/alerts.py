"""Rupture and safety alerts: detection after each check-in, acknowledgement, repair, dismissal,
escalation of unacknowledged safety alerts, and the practice's alert settings.

Rules (DESIGN.md, "Ruptures"; thresholds per practice in FeedbackSettings):
- the alliance index is below the cutoff (default 9.0);
- any core item is at or below a value (default 6, on the 0–10 scale);
- the index dropped by at least 1.0 from the client's previous check-in (same instrument);
- the index is at least 1 SD below the client's running baseline (the mean of every earlier
  check-in), once there are at least 3 earlier check-ins and they vary (SD > 0);
- the client answered "yes" to the rupture question.
The first two and the last are absolute; the drop and baseline rules need earlier check-ins.
Check-ins entered in error never count, as the one judged or as history.

One unresolved rupture alert per client (see feedback.models.alerts): a further hit appends to it.
An *acknowledged* rupture is repaired automatically by a later alliance check-in with no rule
hit whose index is at or above `pre_drop_level` (the index before the drop; for a first
check-in, the cutoff). An unacknowledged one is not: repair needs the clinician to have taken
it up (DESIGN.md). The clinician can also record a repair, or dismiss with a reason.

Alerts are shown in the portal; the care team gets a link-only e-mail (care notifications,
area "alerts"): no score, no name. A safety alert still open after the practice's set time is
escalated once to the practice admins (claimed under select_for_update).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership
from care.models import Client, Notification
from feedback import scoring
from feedback.models import Alert, Answer, CheckinResponse, FeedbackSettings, Instrument
from portal.tenancy.models import Practice

EPSILON = 1e-9
NOTE_MAX_LENGTH = 2000
ALERTS_AREA = "alerts"

# Rule keys (stored in Alert.reasons and used by the charts).
BELOW_CUTOFF = "below_cutoff"
CORE_ITEM = "core_item"
DROP = "drop"
BASELINE = "baseline"
CLIENT_REPORTED = "client_reported"
SAFETY_ITEM = "safety_item"


def _num(value: float) -> str:
    """8.875 → "8.88", 9.0 → "9", for the reason texts."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --- Settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuptureRules:
    index_below: float = 9.0
    core_item_at_most: float = 6
    drop_at_least: float = 1.0
    baseline_sd: float = 1.0
    baseline_min_prior: int = 3

    @classmethod
    def of(cls, row: FeedbackSettings) -> RuptureRules:
        return cls(
            index_below=row.rupture_index_below,
            core_item_at_most=row.rupture_core_item_at_most,
            drop_at_least=row.rupture_drop_at_least,
            baseline_sd=row.rupture_baseline_sd,
            baseline_min_prior=row.rupture_baseline_min_prior,
        )


def alert_settings(practice: Practice) -> FeedbackSettings:
    """The practice's settings row, or the (unsaved) defaults. Works in or out of the scope."""
    found = FeedbackSettings.unscoped.filter(practice=practice).first()
    return found if found is not None else FeedbackSettings(practice=practice)


ALERT_SETTINGS_LIMITS = {
    "rupture_index_below": (0.0, 10.0, "The alliance cutoff"),
    "rupture_core_item_at_most": (0, 10, "The core question level"),
    "rupture_drop_at_least": (0.1, 10.0, "The drop"),
    "rupture_baseline_sd": (0.5, 5.0, "The number of standard deviations"),
    "rupture_baseline_min_prior": (2, 20, "The number of earlier check-ins"),
    "safety_escalate_after_hours": (1, 168, "The escalation time"),
}
ALERT_SETTINGS_FIELDS = (*ALERT_SETTINGS_LIMITS, "crisis_resources")


def update_alert_settings(*, practice: Practice, actor: Membership, **values) -> FeedbackSettings:
    """Save the rupture thresholds, the escalation time and the crisis text (admins only)."""
    if actor.practice_id != practice.pk or actor.role != Membership.Role.ADMIN:
        raise ValidationError("Only a practice admin can change the alert settings.")
    unknown = set(values) - set(ALERT_SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    errors = {}
    for name, (lo, hi, label) in ALERT_SETTINGS_LIMITS.items():
        if name in values and (values[name] is None or not lo <= values[name] <= hi):
            errors[name] = f"{label} must be from {_num(lo)} to {_num(hi)}."
    if "crisis_resources" in values:
        text = (values["crisis_resources"] or "").replace("\x00", "").strip()
        if not text:
            errors["crisis_resources"] = "Say where a client in crisis can get help right now."
        elif len(text) > 4000:
            errors["crisis_resources"] = "Keep this under 4,000 characters."
        values["crisis_resources"] = text
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row, _ = FeedbackSettings.objects.select_for_update().get_or_create(practice=practice)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at, row.updated_by = timezone.now(), actor
        row.save()
    return row


# --- The rules (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    rule: str
    text: str


def rupture_hits(
    rules: RuptureRules,
    *,
    index: float,
    prior: list[float],
    core_items: list[tuple[str, float]] = (),
    rupture_reported: bool = False,
) -> list[Hit]:
    """The rupture rules `index` (0–10) hits, given the client's earlier indices (oldest first),
    the core items' answers on 0–10 as (question, value), and the rupture question."""
    hits: list[Hit] = []
    if index < rules.index_below - EPSILON:
        hits.append(
            Hit(BELOW_CUTOFF, f"Alliance index {_num(index)} is below {_num(rules.index_below)}.")
        )
    low = [(text, value) for text, value in core_items if value <= rules.core_item_at_most + EPSILON]
    if low:
        listed = "; ".join(f"“{text}” {_num(value)}" for text, value in low)
        hits.append(
            Hit(CORE_ITEM, f"Core question at or below {_num(rules.core_item_at_most)}: {listed}.")
        )
    if prior and prior[-1] - index >= rules.drop_at_least - EPSILON:
        hits.append(
            Hit(
                DROP,
                f"Down {_num(prior[-1] - index)} from the previous check-in "
                f"({_num(prior[-1])} to {_num(index)}).",
            )
        )
    if len(prior) >= rules.baseline_min_prior:
        # Floats rather than statistics.stdev's exact fractions: the check-in history evaluates
        # this at every point of a long series, where the fractions cost milliseconds each.
        mean = statistics.fmean(prior)
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in prior) / (len(prior) - 1))
        if sd > EPSILON and mean - index >= rules.baseline_sd * sd - EPSILON:
            hits.append(
                Hit(
                    BASELINE,
                    f"{_num((mean - index) / sd)} SD below their usual level "
                    f"(mean {_num(mean)}, SD {_num(sd)} over {len(prior)} check-ins).",
                )
            )
    if rupture_reported:
        hits.append(
            Hit(CLIENT_REPORTED, "The client said there was a moment that didn't feel right.")
        )
    return hits


def core_item_values(version, answers) -> list[tuple[str, float]]:
    """(question, answer on 0–10) of the core scale items among `answers`, (item, value) pairs
    (reverse keys applied)."""
    lo, hi = version.scale_min, version.scale_max
    values = []
    for item, value in answers:
        if not item.is_core or item.response_kind != scoring.SCALE or value is None:
            continue
        value = scoring.reverse(value, lo, hi) if item.reverse_keyed else value
        values.append((item.text, (value - lo) * 10 / (hi - lo)))
    return values


def is_alliance_response(response: CheckinResponse) -> bool:
    return (
        response.index is not None
        and response.instrument_version.instrument.kind == Instrument.Kind.ALLIANCE
    )


# --- Detection ----------------------------------------------------------------------------------


def _earlier_indices(response: CheckinResponse) -> list[float]:
    return list(
        CheckinResponse.objects.counted()
        .filter(
            client_id=response.client_id,
            instrument_version__instrument_id=response.instrument_version.instrument_id,
            index__isnull=False,
        )
        .filter(
            Q(submitted_at__lt=response.submitted_at)
            | Q(submitted_at=response.submitted_at, pk__lt=response.pk)
        )
        .order_by("submitted_at", "id")
        .values_list("index", flat=True)
    )


def _reason(hit: Hit, response: CheckinResponse) -> dict:
    return {
        "rule": hit.rule,
        "text": hit.text,
        "response_id": response.pk,
        "at": response.submitted_at.isoformat(),
    }


def _tell_care_team(*, practice: Practice, client: Client, kind: str) -> None:
    """Unread marker plus a link-only e-mail to the client's current clinicians."""
    from care.services.notifications import notify

    notify(practice=practice, actor=client.membership, client=client, kind=kind, area=ALERTS_AREA)


def detect_after_response(
    *,
    practice: Practice,
    response: CheckinResponse,
    answers: list[Answer] | None = None,
    client: Client | None = None,
) -> list[Alert]:
    """Raise, extend or repair the client's alerts after `response` was stored. Called inside
    submit_response's transaction; returns the alerts raised or changed.

    `answers`: the response's answers with their items, when the caller has them in hand.
    `client`: the client (with membership) when the caller already holds its row lock.
    """
    if response.entered_in_error_at is not None:
        return []
    if client is None:
        # One detection per client at a time (the partial unique constraints are the backstop).
        client = (
            Client.objects.select_for_update(of=("self",))
            .select_related("membership")
            .get(pk=response.client_id)
        )
    if answers is None:
        answers = list(Answer.objects.filter(response=response).select_related("item"))
    changed = []
    if response.safety_item_positive:
        changed.append(
            _raise_safety(practice=practice, client=client, response=response, answers=answers)
        )
    if is_alliance_response(response):
        alert = _judge_alliance(
            practice=practice, client=client, response=response, answers=answers
        )
        if alert is not None:
            changed.append(alert)
    return changed


def _raise_safety(*, practice, client, response, answers) -> Alert:
    version = response.instrument_version
    labels = version.anchor_labels
    reasons = []
    for answer in (a for a in answers if a.item.flag == scoring.SAFETY):
        label = labels.get(answer.value)
        answered = f"“{label}” ({answer.value})" if label else f"{answer.value}"
        reasons.append(
            {
                "rule": SAFETY_ITEM,
                "text": f"{version.instrument.name}: answered {answered} to “{answer.item.text}”.",
                "response_id": response.pk,
                "at": response.submitted_at.isoformat(),
            }
        )
    if not reasons:
        reasons = [
            {
                "rule": SAFETY_ITEM,
                "text": f"{version.instrument.name}: a safety question was answered above its lowest answer.",
                "response_id": response.pk,
                "at": response.submitted_at.isoformat(),
            }
        ]
    alert = (
        Alert.objects.select_for_update()
        .filter(client=client, kind=Alert.Kind.SAFETY, status=Alert.Status.OPEN)
        .first()
    )
    if alert is None:
        alert = Alert.objects.create(
            practice=practice,
            client=client,
            kind=Alert.Kind.SAFETY,
            severity=Alert.Severity.HIGH,
            response=response,
            latest_response=response,
            reasons=reasons,
            created_at=response.submitted_at,
            updated_at=response.submitted_at,
        )
    else:
        alert.reasons = [*alert.reasons, *reasons]
        alert.hits += 1
        alert.latest_response = response
        alert.updated_at = response.submitted_at
        alert.save(update_fields=["reasons", "hits", "latest_response", "updated_at"])
    _tell_care_team(practice=practice, client=client, kind=Notification.Kind.SAFETY)
    return alert


def _judge_alliance(*, practice, client, response, answers) -> Alert | None:
    rules = RuptureRules.of(alert_settings(practice))
    prior = _earlier_indices(response)
    hits = rupture_hits(
        rules,
        index=response.index,
        prior=prior,
        core_items=core_item_values(
            response.instrument_version, [(a.item, a.value) for a in answers]
        ),
        rupture_reported=response.rupture_reported,
    )
    alert = (
        Alert.objects.select_for_update()
        .filter(client=client, kind=Alert.Kind.RUPTURE, status__in=Alert.UNRESOLVED)
        .first()
    )
    if hits:
        severity = (
            Alert.Severity.MEDIUM
            if len(hits) > 1 or any(h.rule == CLIENT_REPORTED for h in hits)
            else Alert.Severity.LOW
        )
        reasons = [_reason(hit, response) for hit in hits]
        if alert is None:
            alert = Alert.objects.create(
                practice=practice,
                client=client,
                kind=Alert.Kind.RUPTURE,
                severity=severity,
                response=response,
                latest_response=response,
                reasons=reasons,
                pre_drop_level=prior[-1] if prior and prior[-1] > response.index else None,
                created_at=response.submitted_at,
                updated_at=response.submitted_at,
            )
        else:
            alert.reasons = [*alert.reasons, *reasons]
            alert.hits += 1
            alert.severity = max(alert.severity, severity)
            alert.latest_response = response
            alert.updated_at = response.submitted_at
            alert.save(update_fields=["reasons", "hits", "severity", "latest_response", "updated_at"])
        _tell_care_team(practice=practice, client=client, kind=Notification.Kind.RUPTURE)
        return alert
    if alert is not None and alert.status == Alert.Status.ACKNOWLEDGED:
        target = alert.pre_drop_level if alert.pre_drop_level is not None else rules.index_below
        if response.index >= target - EPSILON:
            alert.status = Alert.Status.REPAIRED
            alert.repaired_at = response.submitted_at
            alert.repaired_how = Alert.RepairHow.AUTO
            alert.repair_response = response
            alert.updated_at = response.submitted_at
            alert.save(
                update_fields=["status", "repaired_at", "repaired_how", "repair_response", "updated_at"]
            )
            return alert
    return None


# --- The clinician's actions --------------------------------------------------------------------


def _clean_text(value: str, field: str, missing: str) -> str:
    text = (value or "").replace("\x00", "").strip()
    if not text:
        raise ValidationError({field: missing})
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationError({field: f"Keep this under {NOTE_MAX_LENGTH:,} characters."})
    return text


def _check_staff(practice: Practice, actor: Membership) -> None:
    if actor.practice_id != practice.pk or actor.role not in Membership.STAFF_ROLES:
        raise ValidationError("Only the client's care team can act on an alert.")


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


def acknowledge_alert(
    *, practice: Practice, actor: Membership, alert: Alert, note: str, now: datetime | None = None
) -> Alert:
    """The clinician has seen the alert and says how they will take it up."""
    _check_staff(practice, actor)
    note = _clean_text(note, "note", "Say how you will take this up with the client.")
    with transaction.atomic():
        alert = _locked(alert)
        if alert.status != Alert.Status.OPEN:
            raise ValidationError("This alert has already been acknowledged or closed.")
        alert.status = Alert.Status.ACKNOWLEDGED
        alert.acknowledged_at = now or timezone.now()
        alert.acknowledged_by = actor
        alert.acknowledgement_note = note
        alert.updated_at = alert.acknowledged_at
        alert.save()
    return alert


def record_repair(
    *, practice: Practice, actor: Membership, alert: Alert, note: str, now: datetime | None = None
) -> Alert:
    """The clinician records that the rupture was repaired (acknowledging it if not yet)."""
    _check_staff(practice, actor)
    note = _clean_text(note, "note", "Say briefly how the rupture was repaired.")
    with transaction.atomic():
        alert = _locked(alert)
        if alert.kind != Alert.Kind.RUPTURE:
            raise ValidationError("Only a rupture can be repaired; acknowledge a safety alert.")
        if alert.status not in Alert.UNRESOLVED:
            raise ValidationError("This alert is already closed.")
        now = now or timezone.now()
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, actor
        alert.status = Alert.Status.REPAIRED
        alert.repaired_at, alert.repaired_by = now, actor
        alert.repaired_how = Alert.RepairHow.RECORDED
        alert.repair_note = note
        alert.updated_at = now
        alert.save()
    return alert


def dismiss_alert(
    *, practice: Practice, actor: Membership, alert: Alert, reason: str, now: datetime | None = None
) -> Alert:
    """Close an alert that needs no action, saying why (a reason is required)."""
    _check_staff(practice, actor)
    reason = _clean_text(reason, "reason", "Say why this alert needs no action.")
    with transaction.atomic():
        alert = _locked(alert)
        if alert.status not in Alert.UNRESOLVED:
            raise ValidationError("This alert is already closed.")
        alert.status = Alert.Status.DISMISSED
        alert.dismissed_at = now or timezone.now()
        alert.dismissed_by = actor
        alert.dismissal_reason = reason
        alert.updated_at = alert.dismissed_at
        alert.save()
    return alert


# --- Escalation (beat job, per practice) ---------------------------------------------------------


def escalate_overdue_safety_alerts(*, practice: Practice, now: datetime | None = None) -> int:
    """Tell the practice admins about safety alerts still unacknowledged after the practice's
    set time. Each alert is claimed once (escalated_at, under a row lock), so a rerun or a
    redelivered task escalates nothing twice."""
    now = now or timezone.now()
    hours = alert_settings(practice).safety_escalate_after_hours
    with transaction.atomic():
        overdue = list(
            Alert.objects.select_for_update(skip_locked=True)
            .filter(
                kind=Alert.Kind.SAFETY,
                status=Alert.Status.OPEN,
                escalated_at__isnull=True,
                created_at__lte=now - timedelta(hours=hours),
            )
            .order_by("id")
        )
        if not overdue:
            return 0
        Alert.objects.filter(pk__in=[a.pk for a in overdue]).update(escalated_at=now)
        admins = list(
            Membership.objects.filter(
                role=Membership.Role.ADMIN, status=Membership.Status.ACTIVE, user__isnull=False
            )
        )
        Notification.objects.bulk_create(
            Notification(
                practice=practice,
                recipient=admin,
                client_id=alert.client_id,
                kind=Notification.Kind.ESCALATION,
                area=ALERTS_AREA,
                actor=None,
            )
            for alert in overdue
            for admin in admins
        )
        from care.tasks import send_notification_email

        for admin in admins:
            send_notification_email.delay_on_commit(practice.pk, admin.pk)
    return len(overdue)
