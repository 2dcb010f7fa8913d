"""Writes for check-in responses: submitting (checked, scored, stored whole) and marking a
response entered in error. Keyword-only; the practice's scope must be entered already."""

from django.core.exceptions import ValidationError
from django.db import transaction
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
    if client.practice_id != practice.pk or version.practice_id != practice.pk:
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
    with transaction.atomic():
        # Locked so that no edit can rewrite the version between checking and storing.
        version = InstrumentVersion.objects.select_for_update().get(pk=version.pk)
        items = list(InstrumentItem.objects.filter(version=version).order_by("position"))
        spec = version.spec(items)
        cleaned = scoring.clean_answers(spec, answers)
        result = scoring.score(spec, cleaned)
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
        Answer.objects.bulk_create(
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

        detect_after_response(practice=practice, response=response)
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
