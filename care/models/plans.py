"""Collaborative treatment plans: content in tables, every change an immutable revision."""

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from care.models.clients import Client
from portal.tenancy.models import PracticeScopedModel


class TreatmentPlan(PracticeScopedModel):
    """One open plan per client. `version` guards against lost concurrent edits."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PROPOSED = "proposed", "Waiting for agreement"
        AGREED = "agreed", "Agreed"
        UNDER_REVIEW = "under_review", "Under review"
        CLOSED = "closed", "Closed"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="plans")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    strengths = models.TextField(blank=True)
    discharge_criteria = models.TextField("how we'll know we're done", blank=True)
    review_date = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "client"],
                condition=~models.Q(status="closed"),
                name="plan_one_open_per_client",
            )
        ]

    @property
    def review_due(self) -> bool:
        return self.review_date is not None and self.review_date <= timezone.localdate()


class PlanProblem(PracticeScopedModel):
    """A problem or need the plan addresses."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="problems")
    text = models.TextField()
    position = models.PositiveIntegerField(default=0)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]


class PlanGoal(PracticeScopedModel):
    """A goal, in the client's own words where possible."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Working on it"
        ACHIEVED = "achieved", "Achieved"
        REMOVED = "removed", "Removed"

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="goals")
    problem = models.ForeignKey(PlanProblem, null=True, blank=True, on_delete=models.SET_NULL, related_name="goals")
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]


class PlanObjective(PracticeScopedModel):
    """A measurable step towards a goal."""

    goal = models.ForeignKey(PlanGoal, on_delete=models.CASCADE, related_name="objectives")
    text = models.TextField()
    target = models.CharField(max_length=200, blank=True)
    target_date = models.DateField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]


class PlanIntervention(PracticeScopedModel):
    """What we will do towards a goal, and who does it."""

    goal = models.ForeignKey(PlanGoal, on_delete=models.CASCADE, related_name="interventions")
    text = models.TextField()
    responsible = models.CharField("who does it", max_length=120, blank=True)
    position = models.PositiveIntegerField(default=0)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]


class PlanRevision(PracticeScopedModel):
    """An immutable snapshot of the whole plan after one change, with what changed."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    changes = models.JSONField(default=list)
    author = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "plan", "number"], name="revision_number_unique")
        ]


class PlanSignature(PracticeScopedModel):
    """Agreement to one specific revision: typed full name, time and the content hash."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="signatures")
    revision = models.ForeignKey(PlanRevision, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    signer_role = models.CharField(max_length=16, choices=Membership.Role.choices)
    typed_name = models.CharField(max_length=200)
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "revision", "signer"], name="signature_once_per_revision")
        ]


class PlanProposal(PracticeScopedModel):
    """A client's proposed new goal or change, accepted or declined with a reason."""

    class Kind(models.TextChoices):
        NEW_GOAL = "new_goal", "New goal"
        CHANGE_GOAL = "change_goal", "Change to a goal"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a response"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="proposals")
    goal = models.ForeignKey(PlanGoal, null=True, blank=True, on_delete=models.CASCADE, related_name="proposals")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    text = models.TextField()
    proposed_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    response = models.TextField(blank=True)
    responded_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    responded_at = models.DateTimeField(null=True, blank=True)


class ProgressRating(PracticeScopedModel):
    """How far along a goal feels, 0-10, from the client or a clinician, at any time."""

    goal = models.ForeignKey(PlanGoal, on_delete=models.CASCADE, related_name="ratings")
    rated_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    rater_role = models.CharField(max_length=16, choices=Membership.Role.choices)
    score = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(score__lte=10), name="rating_0_to_10")]
