"""Per-therapist trend report snapshots (DESIGN.md, "Per-therapist trend reports").

A snapshot is one bucket of figures for one clinician, or for the whole practice when
`clinician` is empty: a week, a month, or the whole 12-month window. Snapshots are computed by
Celery from database aggregates and replaced whole per (clinician, period), so a re-run or a
re-delivered task leaves the same rows. Only counts, means and standard deviations are stored:
intervals and the shrunken comparison are derived when a page is read.

A ReportRun records one computation of a practice's reports (nightly or asked for by an
admin); its progress is the number of subjects whose window snapshot is newer than the run.
"""

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from portal.tenancy.models import PracticeScopedModel


class ReportSnapshot(PracticeScopedModel):
    class Granularity(models.TextChoices):
        WEEK = "week", "Week"
        MONTH = "month", "Month"
        WINDOW = "window", "Last 12 months"

    clinician = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    granularity = models.CharField(max_length=8, choices=Granularity.choices)
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    computed_at = models.DateTimeField(default=timezone.now)

    invitations_sent = models.PositiveIntegerField(default=0)
    invitations_completed = models.PositiveIntegerField(default=0)
    # Alliance check-ins (counted, with an index) and the clients who gave them.
    checkins = models.PositiveIntegerField(default=0)
    clients = models.PositiveIntegerField(default=0)
    index_mean = models.FloatField(null=True, blank=True)
    index_sd = models.FloatField(null=True, blank=True)
    below_cutoff = models.PositiveIntegerField(default=0)
    cutoff = models.FloatField(null=True, blank=True)
    # The mean of each client's own mean, and their spread: the unit of the fair comparison.
    client_mean_mean = models.FloatField(null=True, blank=True)
    client_mean_sd = models.FloatField(null=True, blank=True)
    ruptures_detected = models.PositiveIntegerField(default=0)
    ruptures_acknowledged = models.PositiveIntegerField(default=0)
    ruptures_repaired = models.PositiveIntegerField(default=0)
    median_hours_to_acknowledge = models.FloatField(null=True, blank=True)
    median_hours_to_repair = models.FloatField(null=True, blank=True)
    # Window only: {"email": {"sent": n, "completed": n}, ...}
    channels = models.JSONField(default=dict, blank=True)
    # Window only: [{"key", "name", "responses", "clients", "improved", "deteriorated"}, ...]
    instruments = models.JSONField(default=list, blank=True)

    class Meta(PracticeScopedModel.Meta):
        ordering = ["granularity", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "clinician", "granularity", "period_start"],
                condition=models.Q(clinician__isnull=False),
                name="report_snapshot_one_per_clinician_period",
            ),
            models.UniqueConstraint(
                fields=["practice", "granularity", "period_start"],
                condition=models.Q(clinician__isnull=True),
                name="report_snapshot_one_per_practice_period",
            ),
        ]
        indexes = [models.Index(fields=["practice", "granularity", "clinician"])]

    def __str__(self) -> str:
        return f"{self.get_granularity_display()} from {self.period_start}"


class ReportRun(PracticeScopedModel):
    class Trigger(models.TextChoices):
        NIGHTLY = "nightly", "Nightly"
        ON_DEMAND = "on_demand", "Asked for by an admin"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    # "nightly:2026-11-26" or "demand:<id>": a nightly run happens once per practice and day.
    key = models.CharField(max_length=64)
    requested_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    subjects = models.PositiveIntegerField(default=0)  # clinicians + the practice as a whole
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(PracticeScopedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "key"], name="report_run_key_per_practice")
        ]


class DigestEmail(PracticeScopedModel):
    """One weekly digest per clinician and week: the idempotency key of the send."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Could not be sent"

    clinician = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta(PracticeScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "clinician", "week_start"], name="digest_one_per_week"
            )
        ]
