from care.models.activity import Comment, Notification
from care.models.clients import CaseloadAssignment, Client
from care.models.plans import (
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
from care.models.requests import CareRequest, TerminationPlan
from care.models.sessions import AgendaItem, TherapySession

__all__ = [
    "AgendaItem",
    "CareRequest",
    "CaseloadAssignment",
    "Client",
    "Comment",
    "Notification",
    "PlanGoal",
    "PlanIntervention",
    "PlanObjective",
    "PlanProblem",
    "PlanProposal",
    "PlanRevision",
    "PlanSignature",
    "ProgressRating",
    "TerminationPlan",
    "TherapySession",
]
