"""PostgreSQL stopped for a few seconds while the dispatch runs: nothing lost, nothing doubled.

The machine's shared cluster is never stopped: the test makes a throwaway cluster (initdb into
a temporary directory, pg_ctl on a free port, as the `postgres` user when run as root), copies
the migrated test database with this test's rows into it (pg_dump | pg_restore: the schema the
migrations made), and points a real worker (with the production connection pool) at it. The
worker dispatches and sends 30 check-in e-mails through a slow SMTP server; with four sends
waiting for the server's "250", the cluster is stopped (`pg_ctl stop -m fast`: every session is
terminated mid-transaction), the server then takes those four, the cluster stays down a few
seconds and starts again. Then the sweeper runs, and the sink must hold exactly one message per
e-mail.
"""

import json
import subprocess
import sys
import time

import psycopg
import pytest

from feedback.models import CheckinEmail, CheckinInvitation
from feedback.tasks import dispatch_due_checkins
from portal.tests.faults.conftest import clients_with_due_plans, figures, needs_redis_server
from portal.tests.faults.processes import (
    ROOT,
    PgCluster,
    Worker,
    live_database_url,
    wait_until,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    needs_redis_server,
    pytest.mark.skipif(not PgCluster.available(), reason="needs PostgreSQL 15's initdb/pg_ctl"),
]
DOWN_SECONDS = 4

SWEEP = """
import json, django
django.setup()
from datetime import timedelta
from django.utils import timezone
from feedback.services import emails
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice
later = timezone.now() + emails.UNSENT_GRACE + timedelta(minutes=1)
count = 0
for practice in Practice.objects.all():
    with practice_scope(practice):
        count += emails.release_unsent_emails(practice=practice, now=later)
print(json.dumps(count))
"""


class Database:
    """Reads the throwaway database directly (this process's Django uses the test DB)."""

    def __init__(self, url: str):
        self.url = url

    def rows(self, sql: str):
        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                return conn.execute(sql).fetchall()
        except psycopg.OperationalError:
            return None  # down

    def statuses(self) -> dict:
        rows = self.rows(f"SELECT status, count(*) FROM {CheckinEmail._meta.db_table} "
                         "GROUP BY status")
        return dict(rows or [])

    def sent(self) -> int:
        return self.statuses().get("sent", 0)


def sweep(worker: Worker) -> int:
    """The sweeper's work as if its grace period had passed, against the throwaway cluster."""
    done = subprocess.run([sys.executable, "-c", SWEEP], cwd=ROOT, env=worker.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_postgres_stopped_during_dispatch_loses_nothing_and_doubles_nothing(
    world_a, smtp, broker, tmp_path, record_property
):
    n = 30
    clients_with_due_plans(world_a, n)  # committed: pg_dump sees them
    cluster = PgCluster()
    worker = None
    try:
        started = time.monotonic()
        cluster.init()
        cluster.start()
        made = time.monotonic() - started
        copied = cluster.copy_database(live_database_url(), "rapport")
        cluster.add_app_role("rapport")
        db = Database(cluster.url("rapport"))
        assert db.statuses() == {}

        smtp.delay = 0.25  # each send holds its row lock this long, waiting for its "250"
        smtp.start()
        worker = Worker(tmp_path, broker_url=broker.url, smtp_port=smtp.port,
                        database_url=cluster.url("rapport"), pool=True).start()
        dispatch_due_checkins.delay()
        wait_until(lambda: smtp.count >= 5, "the first e-mails", logs=worker.log)
        # Four sends in flight: each holds its row lock and waits for the server's "250".
        smtp.gate.clear()
        wait_until(lambda: smtp.waiting == 4, "four sends in flight", logs=worker.log)
        in_flight, sent_before = smtp.waiting, smtp.count
        stopped_at = time.monotonic()
        cluster.stop("fast")  # terminates every session, mid-transaction
        # The server takes those four now, when their sender can no longer record it: the
        # worst moment. Before the fix the sweeper later sent each of them a second time.
        smtp.gate.set()
        time.sleep(DOWN_SECONDS)
        cluster.start()
        down = time.monotonic() - stopped_at
        # The beat job runs again a minute later; here at once.
        dispatch_due_checkins.delay()
        wait_until(lambda: db.sent() == n, "every e-mail sent", seconds=120,
                   logs=lambda: worker.log() + cluster.log())
        recovered = time.monotonic() - stopped_at

        swept = sweep(worker)  # finds nothing left behind
        time.sleep(3)  # a duplicate, if there were one, would arrive now
        assert db.statuses() == {"sent": n}
        invitations = db.rows(f"SELECT count(*) FROM {CheckinInvitation._meta.db_table}")
        assert invitations == [(n,)]
        rows = db.rows(f"SELECT practice_id, id, attempts FROM {CheckinEmail._meta.db_table}")
        expected = sorted(f"<checkin-email-{p}-{pk}@testserver>" for p, pk, _ in rows)
        assert sorted(m["Message-ID"] for m in smtp.messages) == expected, worker.log()
        assert all(attempts >= 1 for _, _, attempts in rows)
        retried = worker.lines("database unavailable; retrying")
        unrecorded = worker.lines("sent but not recorded; retrying")
        assert unrecorded == in_flight, worker.log()
        assert worker.lines("'recorded'") == in_flight  # the retries that only record
        figures(record_property, emails=n, seconds_to_make_cluster=round(made, 1),
                seconds_to_copy_database=round(copied, 1), sends_in_flight_at_stop=in_flight,
                sent_before_stop=sent_before, seconds_down=round(down, 1),
                retries_database_gone=retried, sent_but_recorded_later=unrecorded,
                swept_after=swept, seconds_stop_to_all_sent=round(recovered, 1))
    finally:
        if worker is not None:
            worker.stop()
        cluster.remove()
