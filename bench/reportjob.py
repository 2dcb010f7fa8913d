"""One process that computes the trend reports of every clinician (as the nightly Celery worker
would), then the same figures as one hand-written SQL aggregate, and prints both timings and
its own peak memory as JSON. bench/run.py starts it once per scale, so the peak memory of the
process doing the work can be compared between scales.

    python -m bench.reportjob
"""

import json
import os
import resource
import sys
import time

# The figures of a report, per clinician and month over the last year: check-ins sent and
# completed (by due date), responses, mean and SD of the alliance index, share below the
# practice's cutoff, ruptures raised. Written as one statement, the way a person would.
SQL_AGGREGATE = """
WITH months AS (
    SELECT date_trunc('month', now() - interval '12 months') AS since
), sent AS (
    SELECT i.practice_id, i.clinician_id, date_trunc('month', i.due_at) AS month,
           count(*) AS invitations_sent,
           count(*) FILTER (WHERE i.status = 'completed') AS invitations_completed
      FROM feedback_checkininvitation i, months
     WHERE i.due_at >= months.since AND i.clinician_id IS NOT NULL
     GROUP BY 1, 2, 3
), alliance AS (
    SELECT r.practice_id, s.clinician_id, date_trunc('month', r.submitted_at) AS month,
           count(*) AS responses, avg(r.index) AS index_mean, stddev_samp(r.index) AS index_sd,
           avg((r.index < coalesce(fs.rupture_index_below, 9.0))::int) AS share_below,
           count(DISTINCT r.client_id) AS clients
      FROM feedback_checkinresponse r
      JOIN care_therapysession s ON s.id = r.session_id
      LEFT JOIN feedback_feedbacksettings fs ON fs.practice_id = r.practice_id, months
     WHERE r.submitted_at >= months.since AND r.entered_in_error_at IS NULL
       AND r.index IS NOT NULL
     GROUP BY 1, 2, 3
), ruptures AS (
    SELECT a.practice_id, c.clinician_id, date_trunc('month', a.created_at) AS month,
           count(*) AS ruptures,
           count(*) FILTER (WHERE a.acknowledged_at IS NOT NULL) AS acknowledged,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM a.acknowledged_at - a.created_at)) AS median_ack_s
      FROM feedback_alert a
      JOIN care_caseloadassignment c ON c.client_id = a.client_id AND c.ended_at IS NULL, months
     WHERE a.kind = 'rupture' AND a.created_at >= months.since
     GROUP BY 1, 2, 3
)
SELECT count(*), sum(invitations_sent), sum(responses)
  FROM sent
  FULL JOIN alliance USING (practice_id, clinician_id, month)
  FULL JOIN ruptures USING (practice_id, clinician_id, month)
"""


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

    from portal.tenancy.context import practice_scope
    from portal.tenancy.models import Practice

    out = {}
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with connection.cursor() as cursor:  # once untimed: both then start from a warm cache
        cursor.execute(SQL_AGGREGATE)
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
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SQL_AGGREGATE)
        out["sql_rows"] = [float(v or 0) for v in cursor.fetchone()]
    out["sql_seconds"] = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    out["rss_after_setup_mb"] = start_rss / 1024
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
