"""Comments on the plan, its goals and the termination plan; unread notifications."""

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from care.models.clients import Client
from care.models.plans import PlanGoal, TreatmentPlan
from care.models.requests import TerminationPlan
from portal.tenancy.models import PracticeScopedModel


class Comment(PracticeScopedModel):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="comments")
    plan = models.ForeignKey(TreatmentPlan, null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    goal = models.ForeignKey(PlanGoal, null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    termination = models.ForeignKey(TerminationPlan, null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(plan__isnull=False)
                | models.Q(goal__isnull=False)
                | models.Q(termination__isnull=False),
                name="comment_has_a_subject",
            )
        ]


class Notification(PracticeScopedModel):
    """Something new for one person about one client; read in the portal, e-mailed as a link only."""

    class Kind(models.TextChoices):
        COMMENT = "comment", "New comment"
        PROPOSAL = "proposal", "New proposal"
        PROPOSAL_ANSWERED = "proposal_answered", "Answer to your proposal"
        REQUEST = "request", "New request"
        REQUEST_ANSWERED = "request_answered", "Answer to your request"
        PLAN_CHANGED = "plan_changed", "Plan changed"
        PLAN_SIGNED = "plan_signed", "Plan signed"
        AGENDA = "agenda", "New agenda item"
        TERMINATION = "termination", "Ending plan"
        # Check-in alerts (feedback.services.alerts); e-mailed as a link only, like the rest.
        RUPTURE = "rupture", "Possible rupture"
        SAFETY = "safety", "Safety alert"
        ESCALATION = "escalation", "Safety alert not yet acknowledged"

    recipient = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="notifications")
    # Where in the portal the news is, e.g. "plan", "agenda", "requests" (a URL is built from it).
    area = models.CharField(max_length=24, default="plan")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["practice", "recipient", "read_at"]),
            models.Index(fields=["emailed_at", "created_at"]),
        ]
