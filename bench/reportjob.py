"""One process that computes the trend reports of every clinician (as the nightly Celery worker
would), then the same figures as one hand-written SQL statement (bench/report_sql.py, checked
against the service by bench/tests/test_report_sql.py), and prints both timings and its own
peak memory (taken before the statement's rows arrive) as JSON. bench/run.py starts it once
per scale, so the peak memory of the process doing the work can be compared between scales.

    python -m bench.reportjob
"""

import json
import os
import resource
import sys
import time


def compute_practice(practice) -> None:
    """What a nightly run does for one practice: the practice as a whole, then the clinicians
    in the worker's batches (feedback.tasks.fan_out_report_run), one after another."""
    from feedback.services import reports
    from feedback.tasks import REPORT_BATCH

    reports.compute_reports(practice=practice, clinicians=None)
    staff = list(reports.report_subjects())
    for i in range(0, len(staff), REPORT_BATCH):
        reports.compute_reports(practice=practice, clinicians=staff[i : i + REPORT_BATCH])


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from bench import report_sql

    from portal.tenancy.context import practice_scope
    from portal.tenancy.models import Practice

    out = {}
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with connection.cursor() as cursor:  # once untimed: both then start from a warm cache
        cursor.execute(f"SELECT count(*) FROM ({report_sql.SQL}) q", {"now": timezone.now()})
        cursor.fetchone()

    from portal.rls.db import rls_bypass

    out["source"] = "feedback.services.reports.compute_reports (per practice, batches of clinicians)"
    out["available"] = True
    with rls_bypass():  # the beat job's cross-practice fan-out
        practices = list(Practice.objects.filter(is_active=True).order_by("pk"))
    t0 = time.perf_counter()
    for practice in practices:
        with practice_scope(practice):
            compute_practice(practice)
    out["report_seconds"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        out["sql_rows"] = len(report_sql.report_rows(cursor, timezone.now()))
    out["sql_seconds"] = time.perf_counter() - t0
    out["rss_after_setup_mb"] = start_rss / 1024
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
