"""Writes for check-in responses: submitting (checked, scored, stored whole) and marking a
response entered in error. Keyword-only; the practice's scope must be entered already."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership
from feedback import scoring
from feedback.models import Answer, CheckinResponse, InstrumentItem, InstrumentVersion
from portal.tenancy.models import Practice


def submit_response(
    *,
    practice: Practice,
    client,
    version: InstrumentVersion,
    answers: dict,
    channel: str,
    session=None,
    respondent: Membership | None = None,
    clinician: Membership | None = None,
    submitted_at=None,  # alerts hook: backdated history for feedback.demo only
) -> CheckinResponse:
    """Check, score and store one completed check-in with its answers, all or nothing.

    `answers` maps item keys to answers (numbers, "yes"/"no", text; strings from a form are
    fine). Bad answers raise one ValidationError keyed by item, and nothing is stored.
    """
    clinician = checked_parties(
        practice=practice, client=client, version_id=version.pk,
        version_practice_id=version.practice_id, channel=channel, session=session,
        respondent=respondent, clinician=clinician,
    )
    with transaction.atomic():
        checked = checked_answers(practice=practice, version_id=version.pk, answers=answers)
        return store_response(
            practice=practice, client=client, checked=checked, channel=channel,
            session=session, respondent=respondent, clinician=clinician,
            submitted_at=submitted_at,
        )


def checked_parties(
    *, practice, client, version_id, version_practice_id, channel, session, respondent, clinician
) -> Membership | None:
    """Refuse anything from another practice; the clinician (the session's, if not given)."""
    if client.practice_id != practice.pk or version_practice_id != practice.pk:
        raise ValidationError("This check-in does not belong to this practice.")
    if session is not None and (
        session.practice_id != practice.pk or session.client_id != client.pk
    ):
        raise ValidationError({"session": "That session is not one of this client's."})
    if respondent is not None and respondent.practice_id != practice.pk:
        raise ValidationError("The person answering is not a member of this practice.")
    if clinician is None and session is not None:
        clinician = session.clinician
    if clinician is not None and clinician.practice_id != practice.pk:
        raise ValidationError("That clinician is not a member of this practice.")
    if channel not in CheckinResponse.Channel.values:
        raise ValidationError({"channel": "Unknown way of answering."})
    return clinician


def _share_lock_version(practice: Practice, version_id: int) -> None:
    """Hold the version against edits until commit. FOR SHARE (which the ORM does not offer):
    update_version's FOR UPDATE still waits for answers in flight and they for it, but answers
    no longer queue behind each other, as they did under FOR UPDATE."""
    if not connection.features.has_select_for_update:
        return  # SQLite: one writer at a time anyway
    table = InstrumentVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT id FROM "{table}" WHERE id = %s AND practice_id = %s FOR SHARE',
            [version_id, practice.pk],
        )


@dataclass(frozen=True)
class CheckedAnswers:
    version: InstrumentVersion  # with its instrument
    items: list[InstrumentItem]
    cleaned: dict
    result: scoring.Score


def checked_answers(*, practice: Practice, version_id: int, answers: dict) -> CheckedAnswers:
    """Hold the version and check and score the answers against it: reads only, so a refusal
    (ValidationError) leaves nothing to undo. Inside the caller's transaction."""
    _share_lock_version(practice, version_id)
    # Read after the lock, so no edit can rewrite the version between checking and storing;
    # the version and instrument come along in the same query.
    items = list(
        InstrumentItem.objects.filter(version_id=version_id)
        .select_related("version__instrument")
        .order_by("position")
    )
    version = (
        items[0].version if items
        else InstrumentVersion.objects.select_related("instrument").get(pk=version_id)
    )
    spec = version.spec(items)
    cleaned = scoring.clean_answers(spec, answers)
    return CheckedAnswers(version, items, cleaned, scoring.score(spec, cleaned))


def store_response(
    *,
    practice: Practice,
    client,
    checked: CheckedAnswers,
    channel: str,
    session=None,
    respondent: Membership | None = None,
    clinician: Membership | None = None,
    submitted_at=None,
    client_locked: bool = False,
) -> CheckinResponse:
    """Store checked answers and run alert detection, inside the caller's transaction (after
    checked_parties and checked_answers). `client_locked`: the caller holds the client's row
    lock (which alert detection needs)."""
    version, items, cleaned, result = (
        checked.version, checked.items, checked.cleaned, checked.result
    )
    response = CheckinResponse.objects.create(
        practice=practice,
        client=client,
        instrument_version=version,
        session=session,
        channel=channel,
        clinician=clinician,
        respondent=respondent,
        submitted_at=submitted_at or timezone.now(),
        total=result.total,
        mean=result.mean,
        index=result.index,
        band_label=result.band.label if result.band else "",
        band_severity=result.band.severity if result.band else None,
        subscale_scores=result.subscales,
        safety_item_positive=result.safety_item_positive,
        rupture_reported=result.rupture_reported,
    )
    stored = Answer.objects.bulk_create(
        Answer(
            practice=practice,
            response=response,
            item=item,
            value=cleaned[item.key] if item.response_kind != scoring.TEXT else None,
            text=cleaned[item.key] if item.response_kind == scoring.TEXT else "",
        )
        for item in items
        if item.key in cleaned
    )
    # alerts hook: rupture and safety detection, in the same transaction (feedback.services.alerts)
    from feedback.services.alerts import detect_after_response

    detect_after_response(
        practice=practice, response=response, answers=stored,
        client=client if client_locked else None,
    )
    return response


def mark_entered_in_error(
    *, practice: Practice, actor: Membership, response: CheckinResponse, reason: str
) -> CheckinResponse:
    """Keep a response but stop it counting (charts, alerts, reports), saying who and why."""
    reason = (reason or "").strip()
    if actor.practice_id != practice.pk or actor.role not in Membership.STAFF_ROLES:
        raise ValidationError("Only the practice's staff can mark a check-in as entered in error.")
    if not reason:
        raise ValidationError({"reason": "Say why this check-in was entered in error."})
    if len(reason) > 2000:
        raise ValidationError({"reason": "Keep the reason under 2,000 characters."})
    with transaction.atomic():
        response = CheckinResponse.objects.select_for_update().get(pk=response.pk)
        if response.entered_in_error_at is not None:
            raise ValidationError("This check-in is already marked as entered in error.")
        response.entered_in_error_at = timezone.now()
        response.entered_in_error_reason = reason
        response.entered_in_error_by = actor
        response.save(
            update_fields=["entered_in_error_at", "entered_in_error_reason", "entered_in_error_by"]
        )
    return response
