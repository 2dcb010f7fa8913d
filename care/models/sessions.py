"""Therapy sessions and the client's agenda for them."""

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from care.models.clients import Client
from portal.tenancy.models import PracticeScopedModel


class TherapySession(PracticeScopedModel):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ATTENDED = "attended", "Attended"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "Did not attend"

    class Modality(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIDEO = "video", "Video"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sessions")
    clinician = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=50)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    modality = models.CharField(max_length=16, choices=Modality.choices, default=Modality.IN_PERSON)
    created_by = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["practice", "client", "starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=5, duration_minutes__lte=480),
                name="session_duration_sane",
            )
        ]


class AgendaItem(PracticeScopedModel):
    """Something the client wants to talk about, or would rather not today."""

    class Kind(models.TextChoices):
        DISCUSS = "discuss", "I'd like to talk about"
        NOT_TODAY = "not_today", "Not today, please"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ADDRESSED = "addressed", "Addressed"
        CARRIED_OVER = "carried_over", "Carried over"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="agenda_items")
    session = models.ForeignKey(
        TherapySession, null=True, blank=True, on_delete=models.SET_NULL, related_name="agenda_items"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DISCUSS)
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    handled_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
