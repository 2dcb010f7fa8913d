from django.db import models
from django.utils import timezone

from accounts.models import Membership
from portal.tenancy.models import PracticeScopedModel


class Client(PracticeScopedModel):
    """A person in care at the practice. Exists before they accept an invitation."""

    class PreferredContact(models.TextChoices):
        EMAIL = "email", "E-mail"
        PHONE = "phone", "Phone"
        PORTAL = "portal", "Portal messages only"

    # One client record per membership. A ForeignKey plus a UniqueConstraint that includes
    # practice rather than a OneToOneField, whose unique index would leave practice out.
    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="client_records"
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    phone = models.CharField(max_length=40, blank=True)
    preferred_contact = models.CharField(
        max_length=16, choices=PreferredContact.choices, default=PreferredContact.EMAIL
    )
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    discharged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "membership"], name="client_one_per_membership"
            )
        ]
        indexes = [models.Index(fields=["practice", "last_name", "first_name"])]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def email(self) -> str:
        return self.membership.email

    @property
    def is_discharged(self) -> bool:
        return self.discharged_at is not None


class CaseloadAssignment(PracticeScopedModel):
    """A clinician's responsibility for a client over a period; ended, never deleted."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="assignments")
    clinician = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="assignments")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "client", "clinician"],
                condition=models.Q(ended_at__isnull=True),
                name="assignment_one_open_per_pair",
            )
        ]
        indexes = [models.Index(fields=["practice", "clinician", "ended_at"])]
