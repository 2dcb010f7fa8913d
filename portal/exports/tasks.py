"""Thin Celery tasks for exports: load by id, enter the practice scope, call the service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from portal.exports import services
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice


@shared_task
def run_export(practice_id: int, job_id: int) -> str:
    practice = Practice.objects.filter(pk=practice_id).first()
    if practice is None:
        return "skipped"
    with practice_scope(practice):
        return services.run_export_job(practice=practice, job_id=job_id)


@shared_task
def sweep_exports() -> int:
    """Every few minutes: re-dispatch jobs whose message was lost, and remove export files
    older than EXPORT_RETENTION_DAYS (an export holds the whole practice's data)."""
    # Practice by practice, each in its own scope (no cross-practice query on a tenant table,
    # so nothing here needs the row-level-security bypass).
    cutoff = timezone.now() - timedelta(days=settings.EXPORT_RETENTION_DAYS)
    dispatched = 0
    for practice in Practice.objects.all():
        with practice_scope(practice):
            for job_id in services.stale_job_ids(practice=practice):
                run_export.delay(practice.pk, job_id)
                dispatched += 1
            services.expire_files(practice=practice, older_than=cutoff)
    return dispatched
