"""A client's own data, as they may see it: for the readable page and the JSON download.

What is in it: their details, care team, treatment plans once shared with them (never a draft)
with goals, steps, ratings, suggestions, signatures and comments; sessions, agenda items, pace
and ending requests with the answers, ending plans; check-in schedules and preferences; every
check-in they answered, with their answers and scores.

What is not (`NOT_INCLUDED`, also stated in the download): the care team's working notes on
alerts (acknowledgement and repair notes, dismissal reasons) and the alerts themselves, which
are the clinicians' tool for noticing a rupture early; the answers that raised them are in the
check-ins. Plan revision snapshots (the same content as the plan, once per change), internal
notifications and link tokens are left out too. A client who wants more asks the practice.

A fixed number of queries, however much there is.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import Membership
from care.models import (
    AgendaItem,
    CareRequest,
    Client,
    Comment,
    PlanGoal,
    PlanIntervention,
    PlanObjective,
    PlanProblem,
    PlanProposal,
    PlanSignature,
    ProgressRating,
    TerminationPlan,
    TherapySession,
    TreatmentPlan,
)
from care.selectors.clients import care_team
from feedback import scoring
from feedback.models import Answer, CheckinPreferences, CheckinResponse, MeasurementPlan

NOT_INCLUDED = [
    "Alerts and your care team's working notes about them (the check-in answers that raised "
    "them are included).",
    "Treatment plans still in draft, before your care team shared them with you.",
    "Earlier versions of your plan as separate snapshots (your plan as it is now, its "
    "signatures and the comments are included).",
    "Internal notifications and the codes in e-mailed links.",
]


def _name(member: Membership | None, viewer: Membership) -> str:
    if member is None:
        return ""
    if member.pk == viewer.pk:
        return "You"
    return member.display_name


def _plans(client: Client, viewer: Membership) -> list[dict]:
    plans = (
        TreatmentPlan.objects.filter(client=client)
        .exclude(status=TreatmentPlan.Status.DRAFT)
        .order_by("created_at", "id")
        .prefetch_related(
            Prefetch("problems", queryset=PlanProblem.objects.filter(removed_at__isnull=True)),
            Prefetch(
                "goals",
                queryset=PlanGoal.objects.exclude(status=PlanGoal.Status.REMOVED).prefetch_related(
                    Prefetch("objectives", queryset=PlanObjective.objects.filter(removed_at__isnull=True)),
                    Prefetch("interventions", queryset=PlanIntervention.objects.filter(removed_at__isnull=True)),
                    Prefetch("ratings", queryset=ProgressRating.objects.select_related("rated_by__user")),
                ),
            ),
            Prefetch("proposals", queryset=PlanProposal.objects.select_related(
                "proposed_by__user", "responded_by__user").order_by("created_at", "id")),
            Prefetch("signatures", queryset=PlanSignature.objects.select_related(
                "signer__user", "revision").order_by("signed_at", "id")),
        )
    )
    result = []
    for plan in plans:
        result.append({
            "id": plan.pk,
            "status": plan.get_status_display(),
            "strengths": plan.strengths,
            "how_we_will_know_we_are_done": plan.discharge_criteria,
            "review_date": plan.review_date,
            "created_at": plan.created_at,
            "closed_at": plan.closed_at,
            "problems": [p.text for p in plan.problems.all()],
            "goals": [
                {
                    "id": goal.pk,
                    "text": goal.text,
                    "status": goal.get_status_display(),
                    "steps": [
                        {"text": o.text, "target": o.target, "target_date": o.target_date}
                        for o in goal.objectives.all()
                    ],
                    "what_we_will_do": [
                        {"text": i.text, "who": i.responsible} for i in goal.interventions.all()
                    ],
                    "progress_ratings": [
                        {"score": r.score, "by": _name(r.rated_by, viewer), "at": r.created_at}
                        for r in goal.ratings.all()
                    ],
                }
                for goal in plan.goals.all()
            ],
            "suggestions": [
                {
                    "kind": p.get_kind_display(),
                    "text": p.text,
                    "by": _name(p.proposed_by, viewer),
                    "at": p.created_at,
                    "status": p.get_status_display(),
                    "answer": p.response,
                    "answered_by": _name(p.responded_by, viewer),
                    "answered_at": p.responded_at,
                }
                for p in plan.proposals.all()
            ],
            "signatures": [
                {"by": _name(s.signer, viewer), "typed_name": s.typed_name,
                 "revision": s.revision.number, "at": s.signed_at}
                for s in plan.signatures.all()
            ],
        })
    return result


def _comments(client: Client, viewer: Membership) -> list[dict]:
    comments = (
        Comment.objects.filter(client=client)
        .exclude(plan__status=TreatmentPlan.Status.DRAFT)
        .exclude(goal__plan__status=TreatmentPlan.Status.DRAFT)
        .select_related("author__user")
        .order_by("created_at", "id")
    )
    return [
        {
            "on": "plan" if c.plan_id else "goal" if c.goal_id else "ending plan",
            "plan_id": c.plan_id,
            "goal_id": c.goal_id,
            "ending_plan_id": c.termination_id,
            "by": _name(c.author, viewer),
            "at": c.created_at,
            "text": c.body,
        }
        for c in comments
    ]


def _answer_text(version, item, answer: Answer) -> str:
    if item.response_kind == scoring.SCALE:
        if answer.value is None:
            return ""
        labels = {int(o["value"]): o["label"] for o in item.options} or version.anchor_labels
        label = labels.get(answer.value)
        return f"{answer.value} ({label})" if label else str(answer.value)
    if item.response_kind == scoring.YES_NO:
        return "" if answer.value is None else ("Yes" if answer.value else "No")
    return answer.text


def _checkins(client: Client) -> list[dict]:
    responses = (
        CheckinResponse.objects.filter(client=client)
        .select_related("instrument_version__instrument")
        .prefetch_related(Prefetch("answers", queryset=Answer.objects.select_related("item")))
        .order_by("submitted_at", "id")
    )
    result = []
    for r in responses:
        version = r.instrument_version
        result.append({
            "id": r.pk,
            "questionnaire": version.instrument.name,
            "version": version.number,
            "answered_at": r.submitted_at,
            "how": r.get_channel_display(),
            "score": r.score,
            "score_is": version.get_scoring_rule_display(),
            "band": r.band_label,
            "part_scores": r.subscale_scores,
            "marked_as_entered_in_error": r.is_entered_in_error,
            "answers": [
                {"question": a.item.text, "answer": _answer_text(version, a.item, a)}
                for a in r.answers.all()
            ],
        })
    return result


def client_data(*, client: Client, viewer: Membership) -> dict:
    """Everything above, as plain data (dates as date/datetime objects)."""
    member = client.membership
    preferences = CheckinPreferences.objects.filter(client=client).first()
    return {
        "exported_at": timezone.now(),
        "practice": viewer.practice.name,
        "you": {
            "first_name": client.first_name,
            "last_name": client.last_name,
            "email": member.email,
            "phone": client.phone,
            "preferred_contact": client.get_preferred_contact_display(),
            "in_care_since": client.created_at,
            "care_ended_at": client.discharged_at,
        },
        "care_team": [m.display_name for m in care_team(client)],
        "treatment_plans": _plans(client, viewer),
        "comments": _comments(client, viewer),
        "sessions": [
            {"starts_at": s.starts_at, "minutes": s.duration_minutes, "status": s.get_status_display(),
             "how": s.get_modality_display(), "with": s.clinician.display_name}
            for s in TherapySession.objects.filter(client=client).select_related("clinician__user")
        ],
        "agenda_items": [
            {"kind": a.get_kind_display(), "text": a.text, "status": a.get_status_display(),
             "added_at": a.created_at, "session": a.session.starts_at if a.session else None}
            for a in AgendaItem.objects.filter(client=client).select_related("session")
        ],
        "requests": [
            {"kind": r.get_kind_display(), "reason": r.reason, "status": r.get_status_display(),
             "asked_at": r.created_at, "answer": r.response, "answered_at": r.responded_at}
            for r in CareRequest.objects.filter(client=client).order_by("created_at", "id")
        ],
        "ending_plans": [
            {"id": t.pk, "status": t.get_status_display(), "final_sessions": t.final_sessions,
             "what_happens_after": t.after_care, "referrals": t.referrals, "created_at": t.created_at}
            for t in TerminationPlan.objects.filter(client=client).order_by("created_at", "id")
        ],
        "checkin_schedules": [
            {"questionnaire": p.instrument.name, "when": p.cadence_text, "status": p.get_status_display()}
            for p in MeasurementPlan.objects.filter(client=client).select_related("instrument")
        ],
        "checkin_preferences": {
            "reminders_paused": bool(preferences and preferences.reminders_paused),
            "no_email": bool(preferences and preferences.email_opt_out),
        },
        "checkins": _checkins(client),
        "not_included": NOT_INCLUDED,
    }


def as_json(value):
    """`client_data` with dates as ISO 8601 strings (times in UTC)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
