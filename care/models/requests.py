"""The client's say over pace, frequency, pausing and ending therapy."""

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from care.models.clients import Client
from portal.tenancy.models import PracticeScopedModel


class CareRequest(PracticeScopedModel):
    class Kind(models.TextChoices):
        SLOWER = "slower", "Slow down"
        FASTER = "faster", "Go a bit faster"
        LESS_OFTEN = "less_often", "Meet less often"
        MORE_OFTEN = "more_often", "Meet more often"
        PAUSE = "pause", "Take a pause"
        END = "end", "End therapy"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a response"
        ANSWERED = "answered", "Answered"
        WITHDRAWN = "withdrawn", "Withdrawn"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="care_requests")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    response = models.TextField(blank=True)
    responded_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open request per kind: asking twice (or a double submit) adds nothing.
            models.UniqueConstraint(
                fields=["practice", "client", "kind"],
                condition=models.Q(status="open"),
                name="care_request_one_open_per_kind",
            )
        ]


class TerminationPlan(PracticeScopedModel):
    """How therapy ends well: final sessions, what happens after, referrals."""

    class Status(models.TextChoices):
        OPEN = "open", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="termination_plans")
    request = models.ForeignKey(CareRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    final_sessions = models.PositiveSmallIntegerField(default=2)
    after_care = models.TextField("what happens after", blank=True)
    referrals = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "client"],
                condition=models.Q(status="open"),
                name="termination_one_open_per_client",
            )
        ]
