"""Exporting a practice: start a job (admin page), run it (Celery), or write straight to a path
(management command). The same writers serve all three.

A job is claimed under a row lock before any work, so a redelivered or swept task does nothing
when the job is finished or another worker holds it; a worker that died mid-export leaves a
heartbeat that goes stale, and the job may then be taken over (`attempts` tells the attempts
apart, so a late finisher of an older attempt cannot overwrite the newer one). The file is
written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from portal.exports import csv_export, fhir
from portal.exports.models import ExportJob
from portal.tenancy.models import Practice

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a running job with an older heartbeat has lost its worker
QUEUED_GRACE = timedelta(minutes=5)  # a queued job this old lost its message: dispatch again
FORMATS = tuple(ExportJob.Format.values)


def exports_dir() -> Path:
    return Path(settings.EXPORTS_DIR)


def job_file(job: ExportJob) -> Path | None:
    """The finished file of `job`, only ever inside EXPORTS_DIR."""
    if not job.file_path:
        return None
    root = exports_dir().resolve()
    path = (root / job.file_path).resolve()
    if not path.is_relative_to(root):
        return None
    return path


# --- Writing -----------------------------------------------------------------------------------


def write_export(*, practice: Practice, format: str, out: Path, progress=None) -> dict:
    """Write the practice's export to `out`: FHIR as one JSON Bundle file; CSV as a zip when
    `out` ends in .zip, else as a directory of files. Runs inside the practice's scope.
    `progress(percent)` is called now and then. Returns a small summary (counts only)."""
    if format not in FORMATS:
        raise ValidationError(f"Unknown export format {format!r}: choose one of {', '.join(FORMATS)}.")
    report = progress or (lambda percent: None)
    if format == ExportJob.Format.FHIR:
        total = max(fhir.count_resources(), 1)
        with open(out, "w", encoding="utf-8") as handle:
            count = fhir.write_bundle(practice, handle, lambda done: report(min(99, done * 100 // total)))
        return {"resources": count}

    def table_done(number, total):
        report(min(99, number * 100 // total))

    if out.suffix == ".zip":
        counts = csv_export.write_zip(practice, out, table_done)
    else:
        counts = csv_export.write_directory(practice, out, table_done)
    return {"files": len(counts), "rows": sum(counts.values())}


# --- Jobs ----------------------------------------------------------------------------------------


def start_export(*, practice: Practice, actor: Membership, format: str) -> ExportJob:
    if actor.role != Membership.Role.ADMIN:
        raise ValidationError("Only practice admins can export the practice.")
    if format not in FORMATS:
        raise ValidationError("Choose CSV or FHIR.")
    from portal.exports import tasks  # tasks import this module

    job = ExportJob.objects.create(practice=practice, format=format, created_by=actor)
    tasks.run_export.delay_on_commit(practice.pk, job.pk)
    return job


def claim_job(*, practice: Practice, job_id: int) -> ExportJob | None:
    """The job, now ours to run; None when it is finished, gone, or held by a live worker."""
    now = timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if job.status == ExportJob.Status.RUNNING and job.heartbeat_at and job.heartbeat_at > now - LEASE:
            return None
        job.status = ExportJob.Status.RUNNING
        job.attempts += 1
        job.progress = 0
        job.heartbeat_at = now
        job.save(update_fields=["status", "attempts", "progress", "heartbeat_at"])
    return job


def _mine(job: ExportJob):
    return ExportJob.objects.filter(pk=job.pk, attempts=job.attempts, status=ExportJob.Status.RUNNING)


def run_export_job(*, practice: Practice, job_id: int) -> str:
    job = claim_job(practice=practice, job_id=job_id)
    if job is None:
        return "skipped"
    folder = exports_dir() / str(practice.pk)
    folder.mkdir(parents=True, exist_ok=True)
    ext = "zip" if job.format == ExportJob.Format.CSV else "json"
    final = folder / f"export-{job.pk}.{ext}"
    # Ends in .zip for CSV, so write_export writes a zip rather than a directory.
    partial = folder / f".export-{job.pk}-{job.attempts}.part.{ext}"

    def progress(percent):
        _mine(job).update(progress=percent, heartbeat_at=timezone.now())

    try:
        write_export(practice=practice, format=job.format, out=partial, progress=progress)
        os.replace(partial, final)
    except Exception as error:  # recorded for the admin; the message may carry data, so not logged
        partial.unlink(missing_ok=True)
        logger.error("Export job %s failed: %s", job.pk, type(error).__name__)
        _mine(job).update(
            status=ExportJob.Status.FAILED,
            error=f"The export stopped with an internal error ({type(error).__name__}).",
            finished_at=timezone.now(),
        )
        return "failed"
    finished = _mine(job).update(
        status=ExportJob.Status.DONE,
        progress=100,
        file_path=str(final.relative_to(exports_dir())),
        size_bytes=final.stat().st_size,
        finished_at=timezone.now(),
    )
    return "done" if finished else "superseded"


def record_command_export(*, practice: Practice, format: str) -> None:
    """The audit event of an export made with `manage.py export_practice` (no signed-in actor)."""
    record_event(practice=practice, actor=None, action=AuditEvent.Action.EXPORT,
                 detail={"format": format, "via": "command"})


def stale_job_ids(*, practice: Practice) -> list[int]:
    """Jobs whose message was probably lost: queued a while ago, or running without a heartbeat."""
    now = timezone.now()
    queued = ExportJob.objects.filter(status=ExportJob.Status.QUEUED, created_at__lt=now - QUEUED_GRACE)
    running = ExportJob.objects.filter(status=ExportJob.Status.RUNNING, heartbeat_at__lt=now - LEASE)
    return list(queued.values_list("pk", flat=True)) + list(running.values_list("pk", flat=True))


def expire_files(*, practice: Practice, older_than=None) -> int:
    """Remove finished export files (all of them, or those finished before `older_than`) and
    mark their jobs expired. Client deletion calls this: an old export still names the client."""
    jobs = ExportJob.objects.filter(status=ExportJob.Status.DONE)
    if older_than is not None:
        jobs = jobs.filter(finished_at__lt=older_than)
    count = 0
    for job in jobs:
        path = job_file(job)
        if path is not None:
            path.unlink(missing_ok=True)
        job.status, job.file_path = ExportJob.Status.EXPIRED, ""
        job.save(update_fields=["status", "file_path"])
        count += 1
    return count
