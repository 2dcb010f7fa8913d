"""Export jobs from the admin page: Celery runs them, admins of the practice download them."""

import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.exports import services, tasks
from portal.exports.models import ExportJob
from portal.exports.tests.support import populate


@pytest.fixture(autouse=True)
def exports_dir(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"
    return settings.EXPORTS_DIR


def _start(as_member, world, format, capture):
    http = as_member(world.admin)
    with capture(execute=True):
        response = http.post(world.url("exports/"), {"format": format})
    assert response.status_code == 302
    with world.scope():
        return ExportJob.objects.get()


def test_an_admin_starts_an_export_and_downloads_it(world_a, as_member, django_capture_on_commit_callbacks):
    populate(world_a)
    job = _start(as_member, world_a, "fhir", django_capture_on_commit_callbacks)
    assert (job.status, job.progress, job.attempts) == ("done", 100, 1)
    http = as_member(world_a.admin)
    page = http.get(world_a.url("exports/")).content.decode()
    assert f"/exports/{job.pk}/download/" in page and 'http-equiv="refresh"' not in page
    response = http.get(world_a.url(f"exports/{job.pk}/download/"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    bundle = json.loads(b"".join(response.streaming_content))
    assert bundle["resourceType"] == "Bundle"
    actions = AuditEvent.unscoped.filter(practice=world_a.practice, action="export")
    assert sorted(e.detail["step"] for e in actions) == ["downloaded", "started"]


def test_a_csv_job_makes_a_zip(world_a, as_member, django_capture_on_commit_callbacks):
    job = _start(as_member, world_a, "csv", django_capture_on_commit_callbacks)
    path = services.job_file(job)
    assert path.name == f"export-{job.pk}.zip" and zipfile.is_zipfile(path)
    assert not list(path.parent.glob(".export-*"))  # no partial file left behind


def test_the_page_refreshes_while_a_job_runs(world_a, as_member):
    with world_a.scope():
        ExportJob.objects.create(practice=world_a.practice, format="csv", progress=40,
                                 status="running", created_by=world_a.admin)
    page = as_member(world_a.admin).get(world_a.url("exports/")).content.decode()
    assert 'http-equiv="refresh"' in page and 'value="40"' in page
    assert "<script" not in page.split("<body>")[1] or "nonce" in page


@pytest.mark.parametrize("who", ["clinician", "client"])
def test_only_admins_see_exports(world_a, as_member, django_capture_on_commit_callbacks, who):
    job = _start(as_member, world_a, "csv", django_capture_on_commit_callbacks)
    member = world_a.client.membership if who == "client" else world_a.clinician
    http = as_member(member)
    assert http.get(world_a.url("exports/")).status_code == 404
    assert http.get(world_a.url(f"exports/{job.pk}/download/")).status_code == 404


def test_another_practices_admin_gets_a_404(world_a, world_b, as_member, django_capture_on_commit_callbacks):
    job = _start(as_member, world_a, "csv", django_capture_on_commit_callbacks)
    http = as_member(world_b.admin)
    assert http.get(world_b.url(f"exports/{job.pk}/download/")).status_code == 404
    assert http.get(world_a.url(f"exports/{job.pk}/download/")).status_code == 404


def test_a_redelivered_task_does_nothing_twice(world_a, as_member, django_capture_on_commit_callbacks):
    job = _start(as_member, world_a, "csv", django_capture_on_commit_callbacks)
    finished = job.finished_at
    assert tasks.run_export(world_a.practice.pk, job.pk) == "skipped"
    with world_a.scope():
        job.refresh_from_db()
    assert (job.attempts, job.finished_at) == (1, finished)


def test_a_job_held_by_a_live_worker_is_left_alone_and_a_dead_ones_is_taken_over(world_a):
    with world_a.scope():
        job = ExportJob.objects.create(practice=world_a.practice, format="fhir", status="running",
                                       attempts=1, heartbeat_at=timezone.now())
    assert tasks.run_export(world_a.practice.pk, job.pk) == "skipped"
    with world_a.scope():
        ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        assert services.stale_job_ids(practice=world_a.practice) == [job.pk]
    assert tasks.sweep_exports() == 1  # re-dispatched (eager) and finished by the new attempt
    with world_a.scope():
        job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2)


def test_old_export_files_are_removed(world_a, as_member, django_capture_on_commit_callbacks, settings):
    job = _start(as_member, world_a, "csv", django_capture_on_commit_callbacks)
    path = services.job_file(job)
    settings.EXPORT_RETENTION_DAYS = 0
    tasks.sweep_exports()
    with world_a.scope():
        job.refresh_from_db()
    assert job.status == "expired" and not path.exists()
    assert as_member(world_a.admin).get(world_a.url(f"exports/{job.pk}/download/")).status_code == 404


def test_a_failed_export_says_so_without_content(world_a, monkeypatch):
    from portal.exports import csv_export

    def boom(*args, **kwargs):
        raise RuntimeError("Qqmarker secret detail")

    monkeypatch.setattr(csv_export, "write_zip", boom)
    with world_a.scope():
        job = ExportJob.objects.create(practice=world_a.practice, format="csv")
    assert tasks.run_export(world_a.practice.pk, job.pk) == "failed"
    with world_a.scope():
        job.refresh_from_db()
    assert job.status == "failed" and "RuntimeError" in job.error and "Qqmarker" not in job.error
