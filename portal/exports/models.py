"""An export of a whole practice, made by a Celery job and downloaded by its admins."""

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from portal.tenancy.models import PracticeScopedModel


class ExportJob(PracticeScopedModel):
    class Format(models.TextChoices):
        CSV = "csv", "CSV: one file per table, in a zip"
        FHIR = "fhir", "FHIR R4 Bundle: instruments and check-ins (JSON)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Running"
        DONE = "done", "Ready to download"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "File removed"

    FINISHED = (Status.DONE, Status.FAILED, Status.EXPIRED)

    format = models.CharField(max_length=8, choices=Format.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # 0–100
    # Relative to settings.EXPORTS_DIR; empty until the file is complete.
    file_path = models.CharField(max_length=300, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why it failed, for the admin; never clinical content.
    error = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # A running job whose heartbeat is older than the lease may be taken over (worker lost).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(PracticeScopedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["practice", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="export_progress_0_to_100"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def is_downloadable(self) -> bool:
        return self.status == self.Status.DONE and bool(self.file_path)

    @property
    def download_name(self) -> str:
        ext = "zip" if self.format == self.Format.CSV else "json"
        stamp = timezone.localtime(self.created_at).strftime("%Y%m%d-%H%M")
        return f"{self.practice.slug}-{self.format}-{stamp}.{ext}"
