"""Fault tests with real processes (DESIGN.md, "Background work"): check-in e-mails sent by a
real `celery worker` (thread pool, 4 at a time) on a private redis-server, to a scriptable SMTP
server, with the PostgreSQL test database. Each test breaks one thing while a batch is in
flight and then checks, in the sink and in the database, that every e-mail went out exactly
once: one message per e-mail row, whose Message-ID carries the row's idempotency key.

Figures are printed (pytest -s) and recorded in docs/reliability.md.
"""

import re
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from feedback.models import CheckinEmail, CheckinInvitation
from feedback.services import checkins as checkin_services
from feedback.services import emails as email_services
from feedback.tasks import GAVE_UP, PERMANENT_FAILURE, REFUSED, dispatch_due_checkins
from feedback.tests.checkin_support import browser_for
from portal.tests.faults.conftest import clients_with_due_plans, figures, needs_redis_server
from portal.tests.faults.processes import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    needs_redis_server,
]
VISIBILITY = 3  # the workers' broker visibility timeout (seconds)


def sent() -> int:
    return CheckinEmail.unscoped.filter(status=CheckinEmail.Status.SENT).count()


def sweep(world, *, after=email_services.UNSENT_GRACE + timedelta(minutes=1)) -> int:
    """The sweeper's work, as if it ran `after` from now (its grace period has passed)."""
    with world.scope():
        return email_services.release_unsent_emails(
            practice=world.practice, now=timezone.now() + after
        )


NOTHING_DONE = re.compile(r"succeeded in .*'nothing'(?:: (\d+))?")


def refused_sends(worker) -> int:
    """E-mails a send task found sent already and left alone (a batch says how many)."""
    return sum(int(m.group(1) or 1) for line in worker.output if (m := NOTHING_DONE.search(line)))


def assert_each_delivered_once(smtp, expected: int, logs=lambda: ""):
    """Every e-mail row is sent once, and the sink holds exactly one message per row."""
    rows = list(CheckinEmail.unscoped.select_related("invitation__client__membership"))
    assert len(rows) == expected
    assert [r.status for r in rows] == ["sent"] * expected, logs()
    assert [r.attempts for r in rows] == [1] * expected  # failures and retries are not sends
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == expected, (len(ids), logs())
    assert sorted(ids) == sorted(email_services.message_id(r) for r in rows)
    recipients = sorted(m["To"] for m in smtp.messages)
    assert recipients == sorted(r.invitation.client.membership.email for r in rows)
    assert CheckinInvitation.unscoped.count() == expected  # one invitation per occurrence


# --- a worker killed mid-batch ----------------------------------------------------------------


def test_a_worker_killed_with_sends_in_flight_loses_nothing_and_doubles_nothing(
    world_a, smtp, broker, workers, record_property
):
    n = 24
    world = clients_with_due_plans(world_a, n)
    smtp.delay = 0.05
    smtp.start()
    with world.scope():
        checkin_services.create_due_invitations(practice=world.practice)
    assert broker.queued() == len(email_services.batches(list(range(n))))  # queued on commit

    first = workers()
    wait_until(lambda: smtp.count >= 8, "a first part of the batch", logs=first.log)
    # Hold every further "250": four sends are in flight (read by the server, not yet
    # confirmed), and every confirmed one is committed, when the worker is killed.
    smtp.gate.clear()
    wait_until(lambda: smtp.waiting == 4 and sent() == smtp.count, "four sends in flight",
               logs=first.log)
    delivered_before, in_flight = smtp.count, smtp.waiting
    killed_at = time.monotonic()
    first.kill()
    smtp.gate.set()  # too late: those senders are gone, so their messages were never taken
    wait_until(lambda: smtp.dropped == in_flight, "the in-flight messages to be dropped")
    assert sent() == delivered_before

    # Both ways back: the sweeper re-dispatches every pending e-mail (a duplicate of each
    # message still in the broker), and the next worker restores the killed worker's
    # unacknowledged messages once the visibility timeout has passed.
    swept = sweep(world)
    assert swept == n - delivered_before
    time.sleep(VISIBILITY + 0.5)
    second = workers()
    wait_until(lambda: sent() == n, "every e-mail sent", logs=second.log)
    recovered = time.monotonic() - killed_at
    time.sleep(VISIBILITY + 1)  # let late duplicates arrive and be refused
    assert_each_delivered_once(smtp, n, second.log)
    refused = refused_sends(second)
    assert refused >= swept  # each remaining e-mail was in at least two messages
    assert sweep(world, after=email_services.UNSENT_GRACE * 3) == 0  # nothing left over
    figures(record_property, emails=n, delivered_before_kill=delivered_before,
            in_flight_at_kill=in_flight, dropped_by_server=smtp.dropped, swept=swept,
            duplicate_tasks_refused=refused, seconds_kill_to_all_sent=round(recovered, 1))


# --- Redis restarted while the dispatch runs --------------------------------------------------


def test_a_redis_restart_during_dispatch_loses_nothing_and_doubles_nothing(
    world_a, smtp, broker, workers, record_property
):
    n = 30
    world = clients_with_due_plans(world_a, n)
    smtp.delay = 0.1
    smtp.start()
    worker = workers()
    dispatch_due_checkins.delay()  # the beat job: fans out, creates, queues the sends
    wait_until(lambda: smtp.count >= 6, "the first e-mails", logs=worker.log)
    queued_at_restart = broker.queued()
    broker.kill()  # no persistence: every queued message is gone
    time.sleep(1)
    broker.start()  # the same port
    restarted_at = time.monotonic()
    assert broker.queued() == 0
    wait_until(lambda: worker.lines("Connected to redis") >= 2, "the worker to reconnect",
               logs=worker.log)
    reconnected = time.monotonic() - restarted_at
    wait_until(lambda: smtp.waiting == 0, "the sends in flight to finish", logs=worker.log)
    time.sleep(1)
    before_sweep = sent()
    assert before_sweep < n, "the restart came too late to lose anything"
    assert CheckinEmail.unscoped.count() == n

    swept = sweep(world)
    assert swept == n - before_sweep
    wait_until(lambda: sent() == n, "every e-mail sent", logs=worker.log)
    recovered = time.monotonic() - restarted_at
    # The next beat run finds every occurrence taken: nothing is created or sent twice.
    dispatch_due_checkins.delay()
    wait_until(lambda: worker.lines("create_due_checkins") >= 4, "the second dispatch",
               logs=worker.log)
    time.sleep(VISIBILITY)
    assert_each_delivered_once(smtp, n, worker.log)
    figures(record_property, emails=n, queued_when_redis_died=queued_at_restart,
            sent_before_sweep=before_sweep, swept=swept,
            seconds_to_reconnect=round(reconnected, 1),
            seconds_restart_to_all_sent=round(recovered, 1))


# --- SMTP outage ------------------------------------------------------------------------------


def test_an_smtp_outage_and_4xx_replies_are_retried_with_backoff_then_delivered_once(
    world_a, smtp, workers, record_property
):
    n = 6
    world = clients_with_due_plans(world_a, n)
    greylisted = set()
    busy = {"mail": 3}

    def script(stage, rcpt):
        # Three MAIL FROMs get "try later", and each address's first RCPT is greylisted.
        if stage == "mail" and busy["mail"] > 0:
            busy["mail"] -= 1
            return "451 4.3.2 System busy, try again later"
        if stage == "rcpt" and rcpt not in greylisted:
            greylisted.add(rcpt)
            return "451 4.7.1 Greylisted, please try again later"
        return None

    smtp.script = script
    worker = workers()
    started = time.monotonic()
    with world.scope():
        checkin_services.create_due_invitations(practice=world.practice)
    # Nothing listens on the SMTP port yet: every e-mail fails and waits for its retry.
    wait_until(lambda: all(e.attempts >= 1 for e in CheckinEmail.unscoped.all()),
               "a failed attempt per e-mail", logs=worker.log)
    assert sent() == 0
    smtp.start()
    up_at = time.monotonic()
    wait_until(lambda: sent() == n, "every e-mail sent", seconds=120, logs=worker.log)
    done = time.monotonic()
    time.sleep(2)
    assert not CheckinEmail.unscoped.filter(status="failed").exists()
    rows = list(CheckinEmail.unscoped.all())
    assert all(r.status == "sent" for r in rows)
    retries = worker.lines("retry: Retry in")
    # Each e-mail: refused connection, then its greylisted RCPT; three also hit a busy MAIL.
    assert retries >= 2 * n + 3, worker.log()
    assert len(greylisted) == n and busy["mail"] == 0
    ids = sorted(m["Message-ID"] for m in smtp.messages)
    assert ids == sorted(email_services.message_id(r) for r in rows)
    # The retries waited (1 s, 2 s, 4 s, ... in this test): no retry storm.
    first_refusal = {}
    for at, stage, rcpt, _ in smtp.refusals:
        if stage == "rcpt":
            first_refusal[rcpt] = at
    for message, at in zip(smtp.messages, smtp.accepted_at):
        assert at - first_refusal[message["To"].lower()] >= 1.0
    figures(record_property, emails=n, retries=retries, refusals_4xx=len(smtp.refusals),
            seconds_down=round(up_at - started, 1),
            seconds_up_to_all_sent=round(done - up_at, 1))


def test_a_permanent_5xx_is_recorded_as_failed_where_the_care_team_sees_it(
    world_a, smtp, workers, record_property
):
    n = 5
    world = clients_with_due_plans(world_a, n)
    unknown = world.clients[0]
    rejected = world.clients[1]
    unknown_address = unknown.membership.email.lower()
    rejected_address = rejected.membership.email.lower()

    def script(stage, rcpt):
        if stage == "rcpt" and rcpt == unknown_address:
            return "550 5.1.1 No such user here"
        if stage == "data" and rcpt == rejected_address:
            return "554 5.7.1 Message rejected"
        return None

    smtp.script = script
    smtp.start()
    worker = workers()
    with world.scope():
        checkin_services.create_due_invitations(practice=world.practice)
    wait_until(lambda: not CheckinEmail.unscoped.filter(status="pending").exists(),
               "every e-mail sent or failed", logs=worker.log)
    time.sleep(2)  # a retry, if one were (wrongly) scheduled, would show in the sink
    failed = {e.invitation.client_id: e for e in CheckinEmail.unscoped.filter(status="failed")
              .select_related("invitation")}
    assert set(failed) == {unknown.pk, rejected.pk}
    assert failed[unknown.pk].reason == PERMANENT_FAILURE
    assert failed[rejected.pk].reason == REFUSED
    assert failed[unknown.pk].failed_at is not None
    # Refused once each, never retried.
    assert [r[2] for r in smtp.refusals if r[1] == "rcpt"] == [unknown_address]
    assert [r[2] for r in smtp.refusals if r[1] == "data"] == [rejected_address]
    assert worker.lines("retry: Retry in") == 0
    assert sorted(m["To"].lower() for m in smtp.messages) == sorted(
        c.membership.email.lower() for c in world.clients[2:]
    )
    # The clinician sees it on the client's check-in page.
    page = browser_for(world.clinician).get(reverse(
        "feedback:client_checkins",
        kwargs={"practice_slug": world.practice.slug, "client_id": unknown.pk},
    ))
    assert page.status_code == 200
    html = page.content.decode()
    assert "could not be delivered" in html and "Not delivered" in html
    assert "refused the client&#x27;s address" in html or "refused the client's address" in html
    assert GAVE_UP not in html
    figures(record_property, emails=n, failed=len(failed), delivered=len(smtp.messages))
