"""Writes for collaborative treatment plans. Keyword-only, taking the practice and the actor.

Every change to the plan's content goes through `_record_revision`: it snapshots the plan as
canonical JSON, describes what changed since the previous revision in plain words, writes an
immutable PlanRevision when (and only when) the content changed, bumps the plan's `version`
and voids an agreement (agreed -> under review). Edits carry the `version` the person saw; the
plan row is locked and a stale version is refused with `StalePlan`, so a concurrent change is
never silently overwritten.

For scripts (the demo seed) every edit accepts `version=None`, which skips the check.
"""

import datetime
import hashlib
import json
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import dateformat, timezone

from accounts.models import Membership
from care.models import (
    Client,
    Comment,
    Notification,
    PlanGoal,
    PlanIntervention,
    PlanObjective,
    PlanProblem,
    PlanProposal,
    PlanRevision,
    PlanSignature,
    ProgressRating,
    TreatmentPlan,
)
from care.services.notifications import notify
from portal.tenancy.models import Practice

Status = TreatmentPlan.Status
CONTENT_SCHEMA = 1
# A second identical comment, suggestion or rating this soon is a double submit, not news.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=2)

STALE_MESSAGE = (
    "The plan changed while you were editing. Your text is kept below; "
    "please review and save again."
)
CLOSED_MESSAGE = "This plan is closed, so it can no longer be changed."
DISCHARGED_MESSAGE = "Care with the practice has ended, so the plan can no longer be changed."


class StalePlan(ValidationError):
    """The plan's version moved on since the form was shown."""

    def __init__(self, plan: TreatmentPlan):
        super().__init__(STALE_MESSAGE, code="stale")
        self.current_version = plan.version


# --- Canonical content, hashes and readable differences ---------------------------------------


def plan_content(plan: TreatmentPlan) -> dict:
    """The plan's content as plain data (removed items left out), in a stable order."""
    problems = list(
        PlanProblem.objects.filter(plan=plan, removed_at__isnull=True).order_by("position", "id")
    )
    goals = list(
        PlanGoal.objects.filter(plan=plan)
        .exclude(status=PlanGoal.Status.REMOVED)
        .order_by("position", "id")
    )
    goal_ids = [g.pk for g in goals]
    objectives: dict[int, list] = {pk: [] for pk in goal_ids}
    for o in PlanObjective.objects.filter(goal_id__in=goal_ids, removed_at__isnull=True).order_by(
        "position", "id"
    ):
        objectives[o.goal_id].append(
            {
                "id": o.pk,
                "text": o.text,
                "target": o.target,
                "target_date": o.target_date.isoformat() if o.target_date else None,
            }
        )
    interventions: dict[int, list] = {pk: [] for pk in goal_ids}
    for i in PlanIntervention.objects.filter(
        goal_id__in=goal_ids, removed_at__isnull=True
    ).order_by("position", "id"):
        interventions[i.goal_id].append({"id": i.pk, "text": i.text, "responsible": i.responsible})
    live_problems = {p.pk for p in problems}
    return {
        "schema": CONTENT_SCHEMA,
        "strengths": plan.strengths,
        "discharge_criteria": plan.discharge_criteria,
        "review_date": plan.review_date.isoformat() if plan.review_date else None,
        "problems": [{"id": p.pk, "text": p.text} for p in problems],
        "goals": [
            {
                "id": g.pk,
                "text": g.text,
                "status": g.status,
                "problem_id": g.problem_id if g.problem_id in live_problems else None,
                "objectives": objectives[g.pk],
                "interventions": interventions[g.pk],
            }
            for g in goals
        ],
    }


def canonical_json(content: dict) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: dict) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _q(text: str, limit: int | None = None) -> str:
    text = " ".join((text or "").split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f'"{text}"'


def _day(iso: str | None) -> str:
    return dateformat.format(datetime.date.fromisoformat(iso), "j F Y") if iso else ""


def _changed_text(label: str, old: str, new: str) -> str:
    if not old:
        return f"{label} added: {_q(new)}"
    if not new:
        return f"{label} cleared (was {_q(old)})"
    return f"{label} changed from {_q(old)} to {_q(new)}"


GOAL_STATUS_WORDS = {
    PlanGoal.Status.ACTIVE: "working on it",
    PlanGoal.Status.ACHIEVED: "achieved",
}


def describe_changes(old: dict | None, new: dict) -> list[str]:
    """What changed between two snapshots, as sentences a client can read."""
    if old is None:
        return ["Plan started", *describe_changes(plan_content_empty(), new)]
    changes: list[str] = []
    for key, label in (
        ("strengths", "Strengths"),
        ("discharge_criteria", "How we'll know we're done"),
    ):
        if old[key] != new[key]:
            changes.append(_changed_text(label, old[key], new[key]))
    if old["review_date"] != new["review_date"]:
        if not old["review_date"]:
            changes.append(f"Review date set to {_day(new['review_date'])}")
        elif not new["review_date"]:
            changes.append(f"Review date removed (was {_day(old['review_date'])})")
        else:
            changes.append(
                f"Review date changed from {_day(old['review_date'])} to {_day(new['review_date'])}"
            )

    old_problems = {p["id"]: p for p in old["problems"]}
    new_problems = {p["id"]: p for p in new["problems"]}
    for pid, p in new_problems.items():
        if pid not in old_problems:
            changes.append(f"Problem or need added: {_q(p['text'])}")
        elif old_problems[pid]["text"] != p["text"]:
            changes.append(
                f"Problem or need changed from {_q(old_problems[pid]['text'])} to {_q(p['text'])}"
            )
    for pid, p in old_problems.items():
        if pid not in new_problems:
            changes.append(f"Problem or need removed: {_q(p['text'])}")

    problem_text = {
        **{k: v["text"] for k, v in old_problems.items()},
        **{k: v["text"] for k, v in new_problems.items()},
    }
    old_goals = {g["id"]: g for g in old["goals"]}
    new_goals = {g["id"]: g for g in new["goals"]}
    for gid, g in new_goals.items():
        before = old_goals.get(gid)
        if before is None:
            changes.append(f"Goal added: {_q(g['text'])}")
            before = {
                "text": g["text"],
                "status": PlanGoal.Status.ACTIVE,
                "problem_id": None,
                "objectives": [],
                "interventions": [],
            }
        elif before["text"] != g["text"]:
            changes.append(f"Goal changed from {_q(before['text'])} to {_q(g['text'])}")
        name = _q(g["text"], 60)
        if before["status"] != g["status"]:
            changes.append(
                f"Goal {name} marked as {GOAL_STATUS_WORDS.get(g['status'], g['status'])}"
            )
        if before["problem_id"] != g["problem_id"]:
            if g["problem_id"]:
                changes.append(
                    f"Goal {name} now addresses {_q(problem_text.get(g['problem_id'], ''), 60)}"
                )
            elif before["problem_id"] in new_problems:
                changes.append(f"Goal {name} is no longer linked to a problem or need")
        changes += _describe_children(
            "Objective",
            name,
            before["objectives"],
            g["objectives"],
            (("target", "target"), ("target_date", "target date")),
        )
        changes += _describe_children(
            "Intervention",
            name,
            before["interventions"],
            g["interventions"],
            (("responsible", "who does it"),),
        )
    for gid, g in old_goals.items():
        if gid not in new_goals:
            changes.append(f"Goal removed: {_q(g['text'])}")
    return changes


def plan_content_empty() -> dict:
    return {
        "schema": CONTENT_SCHEMA,
        "strengths": "",
        "discharge_criteria": "",
        "review_date": None,
        "problems": [],
        "goals": [],
    }


def _describe_children(label, goal_name, old_items, new_items, fields) -> list[str]:
    changes = []
    old_by_id = {i["id"]: i for i in old_items}
    new_ids = {i["id"] for i in new_items}
    for item in new_items:
        before = old_by_id.get(item["id"])
        if before is None:
            changes.append(f"{label} added to goal {goal_name}: {_q(item['text'])}")
            for key, words in fields:
                if item[key]:
                    value = _day(item[key]) if key == "target_date" else _q(item[key])
                    changes.append(f"{label} {_q(item['text'], 60)}: {words} set to {value}")
            continue
        if before["text"] != item["text"]:
            changes.append(f"{label} changed from {_q(before['text'])} to {_q(item['text'])}")
        for key, words in fields:
            if before[key] == item[key]:
                continue
            show = _day if key == "target_date" else _q
            name = _q(item["text"], 60)
            if not before[key]:
                changes.append(f"{label} {name}: {words} set to {show(item[key])}")
            elif not item[key]:
                changes.append(f"{label} {name}: {words} removed (was {show(before[key])})")
            else:
                changes.append(
                    f"{label} {name}: {words} changed from {show(before[key])} to {show(item[key])}"
                )
    for item in old_items:
        if item["id"] not in new_ids:
            changes.append(f"{label} removed from goal {goal_name}: {_q(item['text'])}")
    return changes


# --- The one place a change becomes a revision --------------------------------------------------


def latest_revision(plan: TreatmentPlan) -> PlanRevision | None:
    return PlanRevision.objects.filter(plan=plan).order_by("-number").first()


def _record_revision(plan: TreatmentPlan, actor: Membership | None) -> PlanRevision | None:
    """Snapshot the (locked) plan; if its content changed, write a revision, bump the version
    and void an agreement. Returns the new revision, or None when nothing changed."""
    content = plan_content(plan)
    digest = content_hash(content)
    last = latest_revision(plan)
    if last is not None and last.content_hash == digest:
        return None
    revision = PlanRevision.objects.create(
        practice_id=plan.practice_id,
        plan=plan,
        number=(last.number + 1) if last else 1,
        content=content,
        content_hash=digest,
        changes=describe_changes(last.content if last else None, content),
        author=actor,
    )
    plan.version += 1
    plan.updated_at = timezone.now()
    if plan.status == Status.AGREED:
        plan.status = Status.UNDER_REVIEW
    plan.save(update_fields=["version", "updated_at", "status"])
    return revision


# --- Guards ---------------------------------------------------------------------------------


def _lock(plan_id: int) -> TreatmentPlan:
    return (
        TreatmentPlan.objects.select_for_update(of=("self",))
        .select_related("client__membership")
        .get(pk=plan_id)
    )


def _open_for_change(plan_id: int, *, version: int | None) -> TreatmentPlan:
    plan = _lock(plan_id)
    if plan.status == Status.CLOSED:
        raise ValidationError(CLOSED_MESSAGE, code="closed")
    if plan.client.is_discharged:
        raise ValidationError(DISCHARGED_MESSAGE, code="discharged")
    if version is not None and int(version) != plan.version:
        raise StalePlan(plan)
    return plan


def _require_staff(actor: Membership) -> None:
    if actor.role not in Membership.STAFF_ROLES:
        raise ValidationError("Only the care team can change the plan directly.")


def _require_shared_for_client(plan: TreatmentPlan, actor: Membership) -> None:
    if actor.role == Membership.Role.CLIENT and plan.status == Status.DRAFT:
        raise ValidationError("This plan hasn't been shared with you yet.")


def _text(value: str, *, field: str, label: str, max_length: int = 2000) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: f"Please write {label}."})
    if len(value) > max_length:
        raise ValidationError(
            {field: f"Please keep this under {max_length} characters (it has {len(value)})."}
        )
    return value


def _next_position(queryset) -> int:
    return (queryset.aggregate(top=Max("position"))["top"] or 0) + 1


def _tell_client_plan_changed(plan: TreatmentPlan, actor: Membership) -> None:
    """Staff changed a shared plan: one unread notice at a time, not one per edit."""
    if plan.status == Status.DRAFT or actor.role == Membership.Role.CLIENT:
        return
    already = Notification.objects.filter(
        recipient_id=plan.client.membership_id,
        client=plan.client,
        kind=Notification.Kind.PLAN_CHANGED,
        read_at__isnull=True,
    ).exists()
    if not already:
        notify(
            practice=plan._practice,
            actor=actor,
            client=plan.client,
            kind=Notification.Kind.PLAN_CHANGED,
            area="plan",
        )


def _changed(plan: TreatmentPlan, actor: Membership) -> PlanRevision | None:
    revision = _record_revision(plan, actor)
    if revision is not None:
        _tell_client_plan_changed(plan, actor)
    return revision


def _attach(plan: TreatmentPlan, practice: Practice) -> TreatmentPlan:
    """Remember the practice on the locked plan (for notifications) after checking it."""
    if plan.practice_id != practice.pk:
        raise ValidationError("That plan belongs to another practice.")
    plan._practice = practice
    return plan


# --- Plans ------------------------------------------------------------------------------------


@transaction.atomic
def create_plan(
    *,
    practice: Practice,
    actor: Membership,
    client: Client,
    strengths: str = "",
    discharge_criteria: str = "",
    review_date: datetime.date | None = None,
) -> TreatmentPlan:
    """Start a draft plan (revision 1). A client has at most one open plan."""
    _require_staff(actor)
    if client.is_discharged:
        raise ValidationError(DISCHARGED_MESSAGE)
    # Lock the client row so two "start" clicks cannot race past the check below.
    Client.objects.select_for_update().filter(pk=client.pk).first()
    if TreatmentPlan.objects.filter(client=client).exclude(status=Status.CLOSED).exists():
        raise ValidationError("There is already an open plan for this client.", code="exists")
    try:
        with transaction.atomic():
            plan = TreatmentPlan.objects.create(
                practice=practice,
                client=client,
                strengths=strengths.strip(),
                discharge_criteria=discharge_criteria.strip(),
                review_date=review_date,
                created_by=actor,
            )
    except IntegrityError:
        raise ValidationError(
            "There is already an open plan for this client.", code="exists"
        ) from None
    plan.client = client
    _record_revision(_attach(plan, practice), actor)
    return plan


@transaction.atomic
def update_plan_details(
    *,
    practice: Practice,
    actor: Membership,
    plan: TreatmentPlan,
    version: int | None,
    strengths: str,
    discharge_criteria: str,
    review_date: datetime.date | None,
) -> PlanRevision | None:
    _require_staff(actor)
    plan = _attach(_open_for_change(plan.pk, version=version), practice)
    for value, field in ((strengths, "strengths"), (discharge_criteria, "discharge_criteria")):
        if len(value or "") > 5000:
            raise ValidationError({field: "Please keep this under 5000 characters."})
    plan.strengths = (strengths or "").strip()
    plan.discharge_criteria = (discharge_criteria or "").strip()
    plan.review_date = review_date
    plan.save(update_fields=["strengths", "discharge_criteria", "review_date"])
    return _changed(plan, actor)


@transaction.atomic
def share_plan(
    *, practice: Practice, actor: Membership, plan: TreatmentPlan, version: int | None = None
) -> TreatmentPlan:
    """Draft -> proposed: the client can now read, discuss and sign it."""
    _require_staff(actor)
    plan = _attach(_open_for_change(plan.pk, version=version), practice)
    if plan.status != Status.DRAFT:
        return plan  # shared already (a double submit)
    if not PlanGoal.objects.filter(plan=plan).exclude(status=PlanGoal.Status.REMOVED).exists():
        raise ValidationError("Add at least one goal before sharing the plan.")
    plan.status = Status.PROPOSED
    plan.updated_at = timezone.now()
    plan.save(update_fields=["status", "updated_at"])
    notify(
        practice=practice,
        actor=actor,
        client=plan.client,
        kind=Notification.Kind.PLAN_CHANGED,
        area="plan",
    )
    return plan


@transaction.atomic
def close_plan(*, practice: Practice, actor: Membership, plan: TreatmentPlan) -> TreatmentPlan:
    """The plan ends (care ended, or a fresh plan is needed). Idempotent."""
    _require_staff(actor)
    plan = _attach(_lock(plan.pk), practice)
    if plan.status == Status.CLOSED:
        return plan
    was_shared = plan.status != Status.DRAFT
    plan.status = Status.CLOSED
    plan.closed_at = plan.updated_at = timezone.now()
    plan.save(update_fields=["status", "closed_at", "updated_at"])
    if was_shared:
        notify(
            practice=practice,
            actor=actor,
            client=plan.client,
            kind=Notification.Kind.PLAN_CHANGED,
            area="plan",
        )
    return plan


# --- Problems ---------------------------------------------------------------------------------


@transaction.atomic
def add_problem(
    *, practice: Practice, actor: Membership, plan: TreatmentPlan, version: int | None, text: str
) -> PlanProblem:
    _require_staff(actor)
    plan = _attach(_open_for_change(plan.pk, version=version), practice)
    problem = PlanProblem.objects.create(
        practice=practice,
        plan=plan,
        text=_text(text, field="text", label="the problem or need"),
        position=_next_position(PlanProblem.objects.filter(plan=plan)),
    )
    _changed(plan, actor)
    return problem


@transaction.atomic
def edit_problem(
    *, practice: Practice, actor: Membership, problem: PlanProblem, version: int | None, text: str
) -> PlanProblem:
    _require_staff(actor)
    plan = _attach(_open_for_change(problem.plan_id, version=version), practice)
    problem = _live(PlanProblem.objects.filter(plan=plan, removed_at__isnull=True), problem.pk)
    problem.text = _text(text, field="text", label="the problem or need")
    problem.save(update_fields=["text"])
    _changed(plan, actor)
    return problem


@transaction.atomic
def remove_problem(
    *, practice: Practice, actor: Membership, problem: PlanProblem, version: int | None
) -> None:
    _require_staff(actor)
    plan = _attach(_open_for_change(problem.plan_id, version=version), practice)
    updated = PlanProblem.objects.filter(pk=problem.pk, plan=plan, removed_at__isnull=True).update(
        removed_at=timezone.now()
    )
    if updated:
        PlanGoal.objects.filter(plan=plan, problem_id=problem.pk).update(problem=None)
        _changed(plan, actor)


def _live(queryset, pk):
    item = queryset.filter(pk=pk).first()
    if item is None:
        raise ValidationError("That part of the plan has been removed in the meantime.")
    return item


# --- Goals ------------------------------------------------------------------------------------


def _problem_of(plan: TreatmentPlan, problem: PlanProblem | None) -> PlanProblem | None:
    if problem is None:
        return None
    if problem.plan_id != plan.pk or problem.removed_at is not None:
        raise ValidationError({"problem": "Choose a problem or need from this plan."})
    return problem


@transaction.atomic
def add_goal(
    *,
    practice: Practice,
    actor: Membership,
    plan: TreatmentPlan,
    version: int | None,
    text: str,
    problem: PlanProblem | None = None,
) -> PlanGoal:
    _require_staff(actor)
    plan = _attach(_open_for_change(plan.pk, version=version), practice)
    goal = PlanGoal.objects.create(
        practice=practice,
        plan=plan,
        text=_text(text, field="text", label="the goal"),
        problem=_problem_of(plan, problem),
        position=_next_position(PlanGoal.objects.filter(plan=plan)),
    )
    _changed(plan, actor)
    return goal


@transaction.atomic
def edit_goal(
    *,
    practice: Practice,
    actor: Membership,
    goal: PlanGoal,
    version: int | None,
    text: str,
    problem: PlanProblem | None = None,
    status: str = PlanGoal.Status.ACTIVE,
) -> PlanGoal:
    _require_staff(actor)
    plan = _attach(_open_for_change(goal.plan_id, version=version), practice)
    goal = _live(
        PlanGoal.objects.filter(plan=plan).exclude(status=PlanGoal.Status.REMOVED), goal.pk
    )
    if status not in (PlanGoal.Status.ACTIVE, PlanGoal.Status.ACHIEVED):
        raise ValidationError(
            {"status": "Choose whether the goal is still being worked on or achieved."}
        )
    goal.text = _text(text, field="text", label="the goal")
    goal.problem = _problem_of(plan, problem)
    goal.status = status
    goal.save(update_fields=["text", "problem", "status"])
    _changed(plan, actor)
    return goal


@transaction.atomic
def remove_goal(
    *, practice: Practice, actor: Membership, goal: PlanGoal, version: int | None
) -> None:
    _require_staff(actor)
    plan = _attach(_open_for_change(goal.plan_id, version=version), practice)
    updated = (
        PlanGoal.objects.filter(pk=goal.pk, plan=plan)
        .exclude(status=PlanGoal.Status.REMOVED)
        .update(status=PlanGoal.Status.REMOVED)
    )
    if updated:
        _changed(plan, actor)


# --- Objectives and interventions -------------------------------------------------------------


def _goal_in(plan: TreatmentPlan, goal: PlanGoal) -> PlanGoal:
    return _live(
        PlanGoal.objects.filter(plan=plan).exclude(status=PlanGoal.Status.REMOVED), goal.pk
    )


@transaction.atomic
def add_objective(
    *,
    practice: Practice,
    actor: Membership,
    goal: PlanGoal,
    version: int | None,
    text: str,
    target: str = "",
    target_date: datetime.date | None = None,
) -> PlanObjective:
    _require_staff(actor)
    plan = _attach(_open_for_change(goal.plan_id, version=version), practice)
    goal = _goal_in(plan, goal)
    objective = PlanObjective.objects.create(
        practice=practice,
        goal=goal,
        text=_text(text, field="text", label="the objective"),
        target=(target or "").strip()[:200],
        target_date=target_date,
        position=_next_position(PlanObjective.objects.filter(goal=goal)),
    )
    _changed(plan, actor)
    return objective


@transaction.atomic
def edit_objective(
    *,
    practice: Practice,
    actor: Membership,
    objective: PlanObjective,
    version: int | None,
    text: str,
    target: str = "",
    target_date: datetime.date | None = None,
) -> PlanObjective:
    _require_staff(actor)
    plan = _attach(_open_for_change(objective.goal.plan_id, version=version), practice)
    objective = _live(
        PlanObjective.objects.filter(goal__plan=plan, removed_at__isnull=True), objective.pk
    )
    objective.text = _text(text, field="text", label="the objective")
    objective.target = (target or "").strip()[:200]
    objective.target_date = target_date
    objective.save(update_fields=["text", "target", "target_date"])
    _changed(plan, actor)
    return objective


@transaction.atomic
def remove_objective(
    *, practice: Practice, actor: Membership, objective: PlanObjective, version: int | None
) -> None:
    _require_staff(actor)
    plan = _attach(_open_for_change(objective.goal.plan_id, version=version), practice)
    if PlanObjective.objects.filter(
        pk=objective.pk, goal__plan=plan, removed_at__isnull=True
    ).update(removed_at=timezone.now()):
        _changed(plan, actor)


@transaction.atomic
def add_intervention(
    *,
    practice: Practice,
    actor: Membership,
    goal: PlanGoal,
    version: int | None,
    text: str,
    responsible: str = "",
) -> PlanIntervention:
    _require_staff(actor)
    plan = _attach(_open_for_change(goal.plan_id, version=version), practice)
    goal = _goal_in(plan, goal)
    intervention = PlanIntervention.objects.create(
        practice=practice,
        goal=goal,
        text=_text(text, field="text", label="what we will do"),
        responsible=(responsible or "").strip()[:120],
        position=_next_position(PlanIntervention.objects.filter(goal=goal)),
    )
    _changed(plan, actor)
    return intervention


@transaction.atomic
def edit_intervention(
    *,
    practice: Practice,
    actor: Membership,
    intervention: PlanIntervention,
    version: int | None,
    text: str,
    responsible: str = "",
) -> PlanIntervention:
    _require_staff(actor)
    plan = _attach(_open_for_change(intervention.goal.plan_id, version=version), practice)
    intervention = _live(
        PlanIntervention.objects.filter(goal__plan=plan, removed_at__isnull=True), intervention.pk
    )
    intervention.text = _text(text, field="text", label="what we will do")
    intervention.responsible = (responsible or "").strip()[:120]
    intervention.save(update_fields=["text", "responsible"])
    _changed(plan, actor)
    return intervention


@transaction.atomic
def remove_intervention(
    *, practice: Practice, actor: Membership, intervention: PlanIntervention, version: int | None
) -> None:
    _require_staff(actor)
    plan = _attach(_open_for_change(intervention.goal.plan_id, version=version), practice)
    if PlanIntervention.objects.filter(
        pk=intervention.pk, goal__plan=plan, removed_at__isnull=True
    ).update(removed_at=timezone.now()):
        _changed(plan, actor)


# --- Conversation: comments, proposals, ratings -----------------------------------------------


def _recent_duplicate(queryset, **same):
    return (
        queryset.filter(created_at__gte=timezone.now() - DOUBLE_SUBMIT_WINDOW, **same)
        .order_by("-created_at", "-id")
        .first()
    )


def _conversation_plan(plan_id: int, actor: Membership) -> TreatmentPlan:
    plan = _lock(plan_id)
    if plan.status == Status.CLOSED:
        raise ValidationError(CLOSED_MESSAGE)
    if plan.client.is_discharged:
        raise ValidationError(DISCHARGED_MESSAGE)
    _require_shared_for_client(plan, actor)
    return plan


@transaction.atomic
def add_comment(
    *,
    practice: Practice,
    actor: Membership,
    plan: TreatmentPlan,
    body: str,
    goal: PlanGoal | None = None,
) -> Comment:
    """A comment on the plan as a whole or on one goal. The same text twice in a row from the
    same person within a couple of minutes is a double submit and is stored once."""
    plan = _attach(_conversation_plan(plan.pk if goal is None else goal.plan_id, actor), practice)
    if goal is not None:
        goal = _goal_in(plan, goal)
    body = _text(body, field="body", label="your comment", max_length=5000)
    subject = {"goal": goal} if goal is not None else {"plan": plan, "goal__isnull": True}
    duplicate = _recent_duplicate(
        Comment.objects.filter(client=plan.client, **subject), author=actor, body=body
    )
    if duplicate is not None:
        return duplicate
    comment = Comment.objects.create(
        practice=practice, client=plan.client, plan=plan, goal=goal, author=actor, body=body
    )
    if plan.status != Status.DRAFT:
        notify(
            practice=practice,
            actor=actor,
            client=plan.client,
            kind=Notification.Kind.COMMENT,
            area="plan",
        )
    return comment


@transaction.atomic
def propose(
    *,
    practice: Practice,
    actor: Membership,
    plan: TreatmentPlan,
    text: str,
    goal: PlanGoal | None = None,
) -> PlanProposal:
    """A client suggests a new goal (goal=None) or new wording for a goal."""
    if actor.role != Membership.Role.CLIENT:
        raise ValidationError("Suggestions come from the client; the care team edits the plan.")
    plan = _attach(_conversation_plan(plan.pk if goal is None else goal.plan_id, actor), practice)
    if goal is not None:
        goal = _goal_in(plan, goal)
    text = _text(text, field="text", label="your suggestion")
    kind = PlanProposal.Kind.NEW_GOAL if goal is None else PlanProposal.Kind.CHANGE_GOAL
    duplicate = PlanProposal.objects.filter(
        plan=plan,
        goal=goal,
        kind=kind,
        text=text,
        proposed_by=actor,
        status=PlanProposal.Status.PENDING,
    ).first()
    if duplicate is not None:
        return duplicate
    proposal = PlanProposal.objects.create(
        practice=practice, plan=plan, goal=goal, kind=kind, text=text, proposed_by=actor
    )
    notify(
        practice=practice,
        actor=actor,
        client=plan.client,
        kind=Notification.Kind.PROPOSAL,
        area="plan",
    )
    return proposal


def _pending_proposal(plan: TreatmentPlan, proposal: PlanProposal) -> PlanProposal | None:
    """The proposal, locked; None when it was answered already (a double submit)."""
    current = PlanProposal.objects.select_for_update().get(pk=proposal.pk, plan=plan)
    return current if current.status == PlanProposal.Status.PENDING else None


@transaction.atomic
def accept_proposal(
    *,
    practice: Practice,
    actor: Membership,
    proposal: PlanProposal,
    version: int | None = None,
    response: str = "",
) -> PlanProposal:
    """Apply the client's suggestion to the plan (a new revision) and tell the client."""
    _require_staff(actor)
    plan = _attach(_open_for_change(proposal.plan_id, version=version), practice)
    current = _pending_proposal(plan, proposal)
    if current is None:
        return PlanProposal.objects.get(pk=proposal.pk)
    if len(response or "") > 2000:
        raise ValidationError({"response": "Please keep this under 2000 characters."})
    if current.kind == PlanProposal.Kind.NEW_GOAL:
        PlanGoal.objects.create(
            practice=practice,
            plan=plan,
            text=current.text,
            position=_next_position(PlanGoal.objects.filter(plan=plan)),
        )
    else:
        goal = (
            PlanGoal.objects.filter(pk=current.goal_id, plan=plan)
            .exclude(status=PlanGoal.Status.REMOVED)
            .first()
        )
        if goal is None:
            raise ValidationError(
                "That goal has been removed, so this change can't be applied. "
                "You can decline it with a reason instead."
            )
        goal.text = current.text
        goal.save(update_fields=["text"])
    current.status = PlanProposal.Status.ACCEPTED
    current.response = (response or "").strip()
    current.responded_by = actor
    current.responded_at = timezone.now()
    current.save(update_fields=["status", "response", "responded_by", "responded_at"])
    _record_revision(plan, actor)
    notify(
        practice=practice,
        actor=actor,
        client=plan.client,
        kind=Notification.Kind.PROPOSAL_ANSWERED,
        area="plan",
    )
    return current


@transaction.atomic
def decline_proposal(
    *, practice: Practice, actor: Membership, proposal: PlanProposal, reason: str
) -> PlanProposal:
    """Say no, with a reason the client will read."""
    _require_staff(actor)
    plan = _attach(_lock(proposal.plan_id), practice)
    if plan.status == Status.CLOSED:
        raise ValidationError(CLOSED_MESSAGE)
    reason = _text(reason, field="reason", label="a short reason for the client")
    current = _pending_proposal(plan, proposal)
    if current is None:
        return PlanProposal.objects.get(pk=proposal.pk)
    current.status = PlanProposal.Status.DECLINED
    current.response = reason
    current.responded_by = actor
    current.responded_at = timezone.now()
    current.save(update_fields=["status", "response", "responded_by", "responded_at"])
    notify(
        practice=practice,
        actor=actor,
        client=plan.client,
        kind=Notification.Kind.PROPOSAL_ANSWERED,
        area="plan",
    )
    return current


def _score(value) -> int:
    try:
        score = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError({"score": "Choose a number from 0 to 10."}) from None
    if not 0 <= score <= 10 or str(value).strip() != str(score):
        raise ValidationError({"score": "Choose a number from 0 to 10."})
    return score


@transaction.atomic
def rate_progress(
    *, practice: Practice, actor: Membership, goal: PlanGoal, score: int
) -> ProgressRating:
    """How far along the goal feels today, 0-10, from the client or the care team."""
    score = _score(score)
    plan = _attach(_conversation_plan(goal.plan_id, actor), practice)
    goal = _goal_in(plan, goal)
    duplicate = _recent_duplicate(
        ProgressRating.objects.filter(goal=goal), rated_by=actor, score=score
    )
    if duplicate is not None:
        return duplicate
    return ProgressRating.objects.create(
        practice=practice, goal=goal, rated_by=actor, rater_role=actor.role, score=score
    )


# --- Agreement --------------------------------------------------------------------------------


def _name_key(name: str) -> str:
    return " ".join((name or "").split()).casefold()


def expected_names(actor: Membership, client: Client) -> list[str]:
    """The names a signer may type (any one of them, ignoring case and extra spaces)."""
    if actor.role == Membership.Role.CLIENT:
        names = [client.full_name, actor.user.get_full_name() if actor.user_id else ""]
    else:
        names = [actor.display_name]
    return [n for n in names if n.strip()]


@transaction.atomic
def sign_plan(
    *,
    practice: Practice,
    actor: Membership,
    plan: TreatmentPlan,
    revision_number: int,
    typed_name: str,
) -> PlanSignature:
    """Agree to the revision the signer read. Signing the same revision twice is a no-op.
    When the client and a member of the care team have both signed the latest revision, the
    plan is agreed."""
    plan = _attach(_lock(plan.pk), practice)
    if plan.status == Status.CLOSED:
        raise ValidationError(CLOSED_MESSAGE)
    if plan.status == Status.DRAFT:
        raise ValidationError("Share the plan with the client before anyone signs it.")
    if plan.client.is_discharged:
        raise ValidationError(DISCHARGED_MESSAGE)
    latest = latest_revision(plan)
    try:
        number = int(revision_number)
    except (TypeError, ValueError):
        number = None
    if latest is None or number != latest.number:
        raise ValidationError(
            "The plan changed since you opened it. "
            "Please read the latest version, then sign again.",
            code="stale",
        )
    names = expected_names(actor, plan.client)
    if _name_key(typed_name) not in {_name_key(n) for n in names}:
        shown = names[0] if names else ""
        raise ValidationError(
            {"typed_name": f"Please type your full name as it appears here: {shown}."}
        )
    existing = PlanSignature.objects.filter(revision=latest, signer=actor).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            signature = PlanSignature.objects.create(
                practice=practice,
                plan=plan,
                revision=latest,
                signer=actor,
                signer_role=actor.role,
                typed_name=" ".join(typed_name.split())[:200],
                content_hash=latest.content_hash,
            )
    except IntegrityError:
        return PlanSignature.objects.get(revision=latest, signer=actor)
    roles = set(PlanSignature.objects.filter(revision=latest).values_list("signer_role", flat=True))
    both = Membership.Role.CLIENT in roles and roles & set(Membership.STAFF_ROLES)
    if both and plan.status != Status.AGREED:
        plan.status = Status.AGREED
        plan.updated_at = timezone.now()
        plan.save(update_fields=["status", "updated_at"])
    notify(
        practice=practice,
        actor=actor,
        client=plan.client,
        kind=Notification.Kind.PLAN_SIGNED,
        area="plan",
    )
    return signature
