"""Writes for the client's say over pace, frequency, pausing and ending therapy, and for the plan
that ends therapy well. Keyword-only, taking the practice and the acting member."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership
from care.models import CareRequest, Client, Comment, Notification, TerminationPlan
from care.services.notifications import notify
from care.services.sessions import (
    clean_text,
    lock_client,
    require_care_team,
    require_in_care,
    require_the_client,
)
from portal.tenancy.models import Practice

FINAL_SESSIONS_MAX = 30


# --- requests -----------------------------------------------------------------------------------


@transaction.atomic
def create_request(
    *, practice: Practice, actor: Membership, client: Client, kind: str, reason: str = ""
) -> CareRequest:
    """The client asks for a change. One open request per kind: asking again returns the first."""
    require_the_client(actor, client)
    require_in_care(client)
    if kind not in CareRequest.Kind.values:
        raise ValidationError({"kind": "Choose what you would like from the list."})
    reason = clean_text(reason, required=False)
    lock_client(client)
    existing = CareRequest.objects.filter(
        client=client, kind=kind, status=CareRequest.Status.OPEN
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            care_request = CareRequest.objects.create(
                practice=practice, client=client, kind=kind, reason=reason, created_by=actor
            )
    except IntegrityError:  # a concurrent submit won the race (the constraint is the backstop)
        return CareRequest.objects.get(client=client, kind=kind, status=CareRequest.Status.OPEN)
    notify(
        practice=practice,
        actor=actor,
        client=client,
        kind=Notification.Kind.REQUEST,
        area="requests",
    )
    return care_request


@transaction.atomic
def withdraw_request(
    *, practice: Practice, actor: Membership, care_request: CareRequest
) -> CareRequest:
    """The client takes a request back before it is answered (withdrawing twice is harmless)."""
    require_the_client(actor, care_request.client)
    lock_client(care_request.client)
    care_request.refresh_from_db()
    if care_request.status == CareRequest.Status.WITHDRAWN:
        return care_request
    if care_request.status != CareRequest.Status.OPEN:
        raise ValidationError("Your clinician has already answered this request.")
    care_request.status = CareRequest.Status.WITHDRAWN
    care_request.save(update_fields=["status"])
    return care_request


@transaction.atomic
def respond_to_request(
    *, practice: Practice, actor: Membership, care_request: CareRequest, response: str
) -> CareRequest:
    """Staff answer a request in writing; the client sees the answer and is told there is one."""
    client = care_request.client
    require_care_team(actor, client)
    response = clean_text(response, required=True, empty_message="Write your reply to the client.")
    lock_client(client)
    care_request.refresh_from_db()
    if care_request.status == CareRequest.Status.WITHDRAWN:
        raise ValidationError("The client has withdrawn this request.")
    if care_request.status == CareRequest.Status.ANSWERED:
        if care_request.response == response:
            return care_request  # the same reply sent twice
        raise ValidationError("This request has been answered already.")
    care_request.status = CareRequest.Status.ANSWERED
    care_request.response = response
    care_request.responded_by = actor
    care_request.responded_at = timezone.now()
    care_request.save(update_fields=["status", "response", "responded_by", "responded_at"])
    notify(
        practice=practice,
        actor=actor,
        client=client,
        kind=Notification.Kind.REQUEST_ANSWERED,
        area="requests",
    )
    return care_request


# --- the ending plan ----------------------------------------------------------------------------


def _clean_plan(*, final_sessions, after_care: str, referrals: str) -> dict:
    errors = {}
    if (
        not isinstance(final_sessions, int)
        or isinstance(final_sessions, bool)
        or not 0 <= final_sessions <= FINAL_SESSIONS_MAX
    ):
        errors["final_sessions"] = f"Enter a number of sessions from 0 to {FINAL_SESSIONS_MAX}."
    cleaned = {"final_sessions": final_sessions}
    for field, value in (("after_care", after_care), ("referrals", referrals)):
        try:
            cleaned[field] = clean_text(value, required=False)
        except ValidationError as error:
            errors[field] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def open_termination_plan(
    *,
    practice: Practice,
    actor: Membership,
    client: Client,
    final_sessions: int = 2,
    after_care: str = "",
    referrals: str = "",
) -> TerminationPlan:
    """Start planning a good ending, after the client asked or because the clinician decided.

    Linked to the client's open request to end, if there is one. While a plan is open, opening
    another returns it unchanged (a double submit adds nothing).
    """
    require_care_team(actor, client)
    require_in_care(client)
    cleaned = _clean_plan(final_sessions=final_sessions, after_care=after_care, referrals=referrals)
    lock_client(client)
    existing = TerminationPlan.objects.filter(
        client=client, status=TerminationPlan.Status.OPEN
    ).first()
    if existing is not None:
        return existing
    end_request = (
        CareRequest.objects.filter(client=client, kind=CareRequest.Kind.END)
        .exclude(status=CareRequest.Status.WITHDRAWN)
        .order_by("-created_at", "-id")
        .first()
    )
    try:
        with transaction.atomic():
            plan = TerminationPlan.objects.create(
                practice=practice, client=client, request=end_request, created_by=actor, **cleaned
            )
    except IntegrityError:
        return TerminationPlan.objects.get(client=client, status=TerminationPlan.Status.OPEN)
    notify(
        practice=practice,
        actor=actor,
        client=client,
        kind=Notification.Kind.TERMINATION,
        area="ending",
    )
    return plan


def _require_open(plan: TerminationPlan) -> None:
    if plan.status != TerminationPlan.Status.OPEN:
        raise ValidationError(
            f"This ending plan is {plan.get_status_display().lower()}, so it can't be changed."
        )


@transaction.atomic
def update_termination_plan(
    *,
    practice: Practice,
    actor: Membership,
    plan: TerminationPlan,
    final_sessions: int,
    after_care: str,
    referrals: str,
) -> TerminationPlan:
    client = plan.client
    require_care_team(actor, client)
    cleaned = _clean_plan(final_sessions=final_sessions, after_care=after_care, referrals=referrals)
    lock_client(client)
    plan.refresh_from_db()
    _require_open(plan)
    changed = [f for f, v in cleaned.items() if getattr(plan, f) != v]
    if not changed:
        return plan
    for field in changed:
        setattr(plan, field, cleaned[field])
    plan.updated_at = timezone.now()
    plan.save(update_fields=[*changed, "updated_at"])
    notify(
        practice=practice,
        actor=actor,
        client=client,
        kind=Notification.Kind.TERMINATION,
        area="ending",
    )
    return plan


@transaction.atomic
def close_termination_plan(
    *, practice: Practice, actor: Membership, plan: TerminationPlan, status: str
) -> TerminationPlan:
    """Mark the ending plan completed (therapy ended as planned) or cancelled (care goes on)."""
    client = plan.client
    require_care_team(actor, client)
    if status not in (TerminationPlan.Status.COMPLETED, TerminationPlan.Status.CANCELLED):
        raise ValidationError("Choose completed or cancelled.")
    lock_client(client)
    plan.refresh_from_db()
    if plan.status == status:
        return plan  # the same click twice
    _require_open(plan)
    plan.status = status
    plan.updated_at = timezone.now()
    plan.save(update_fields=["status", "updated_at"])
    notify(
        practice=practice,
        actor=actor,
        client=client,
        kind=Notification.Kind.TERMINATION,
        area="ending",
    )
    return plan


@transaction.atomic
def comment_on_termination(
    *, practice: Practice, actor: Membership, plan: TerminationPlan, body: str
) -> Comment:
    """The client or the care team comments on the ending plan; the other side is told."""
    client = plan.client
    if actor.role == Membership.Role.CLIENT:
        require_the_client(actor, client)
    else:
        require_care_team(actor, client)
    body = clean_text(body, required=True, empty_message="Write your comment first.")
    lock_client(client)
    plan.refresh_from_db()
    if plan.status == TerminationPlan.Status.CANCELLED:
        raise ValidationError("This ending plan was cancelled, so it takes no new comments.")
    last = Comment.objects.filter(termination=plan).order_by("-created_at", "-id").first()
    if last is not None and last.author_id == actor.pk and last.body == body:
        return last  # the same comment sent twice
    comment = Comment.objects.create(
        practice=practice, client=client, termination=plan, author=actor, body=body
    )
    notify(
        practice=practice, actor=actor, client=client, kind=Notification.Kind.COMMENT, area="ending"
    )
    return comment
