"""Rupture and safety alerts raised by check-in responses (DESIGN.md, "Ruptures").

One row per episode, not per check-in: while a client's rupture alert is unresolved (open or
acknowledged and waiting for repair), a further check-in that hits a rupture rule appends its
reasons to that alert (`hits` counts the check-ins) instead of opening a second one. The same
goes for a safety alert that is still open (not yet acknowledged); after acknowledgement a new
positive safety answer opens a new alert, which must be acknowledged again. Partial unique
constraints hold this in the database.

`reasons` is a list of {"rule", "text", "response_id", "at"} dicts with human-readable texts; it
carries scores and is shown only inside the portal (never in an e-mail).
"""

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from care.models import Client
from feedback.models.responses import CheckinResponse
from portal.tenancy.models import PracticeScopedModel


class Alert(PracticeScopedModel):
    class Kind(models.TextChoices):
        SAFETY = "safety", "Safety"
        RUPTURE = "rupture", "Possible rupture"

    class Status(models.TextChoices):
        OPEN = "open", "Needs acknowledging"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        REPAIRED = "repaired", "Repaired"
        DISMISSED = "dismissed", "Dismissed"

    class Severity(models.IntegerChoices):
        LOW = 1, "Low"
        MEDIUM = 2, "Medium"
        HIGH = 3, "High"

    class RepairHow(models.TextChoices):
        AUTO = "auto", "A later check-in returned to the earlier level"
        RECORDED = "recorded", "Recorded by the clinician"

    UNRESOLVED = (Status.OPEN, Status.ACKNOWLEDGED)

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # The check-in that raised the alert, and the latest one that added to it.
    response = models.ForeignKey(
        CheckinResponse, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    latest_response = models.ForeignKey(
        CheckinResponse, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reasons = models.JSONField(default=list, blank=True)
    hits = models.PositiveSmallIntegerField(default=1)  # check-ins that raised or added to it
    # Rupture: the alliance index before the drop; a later check-in at or above it (and with no
    # rule hit) repairs an acknowledged rupture.
    pre_drop_level = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)  # "how I will bring it into the room"

    repaired_at = models.DateTimeField(null=True, blank=True)
    repaired_how = models.CharField(max_length=16, choices=RepairHow.choices, blank=True)
    repaired_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    repair_note = models.TextField(blank=True)
    repair_response = models.ForeignKey(
        CheckinResponse, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismissal_reason = models.TextField(blank=True)

    # Safety: when the unacknowledged alert went to the practice admins (claimed once).
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta(PracticeScopedModel.Meta):
        ordering = ["-severity", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "client"],
                condition=models.Q(kind="rupture", status__in=["open", "acknowledged"]),
                name="alert_one_unresolved_rupture_per_client",
            ),
            models.UniqueConstraint(
                fields=["practice", "client"],
                condition=models.Q(kind="safety", status="open"),
                name="alert_one_open_safety_per_client",
            ),
        ]
        indexes = [
            models.Index(fields=["practice", "client", "status"]),
            models.Index(fields=["practice", "kind", "status", "escalated_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} alert {self.pk} ({self.get_status_display()})"

    @property
    def is_safety(self) -> bool:
        return self.kind == self.Kind.SAFETY

    @property
    def is_unresolved(self) -> bool:
        return self.status in self.UNRESOLVED

    @property
    def time_to_acknowledge(self):
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.created_at

    @property
    def time_to_repair(self):
        if self.repaired_at is None:
            return None
        return self.repaired_at - self.created_at
