"""Check-in e-mails through a REAL Celery worker on a real Redis, to a real (tiny) SMTP server:
a worker SIGKILLed mid-send, a restarted Redis and an SMTP server that is down lose no e-mail
and send none twice (DESIGN.md, "Background work").

Each test runs its own redis-server on a free port (so restarting it disturbs nothing else) and
its own SMTP sink (feedback/tests/smtp_sink.py). The worker gets a 3-second broker visibility
timeout (CELERY_VISIBILITY_TIMEOUT), so a message whose worker was killed is redelivered soon,
and a 1-second retry backoff (EMAIL_RETRY_BACKOFF_SECONDS).
"""

import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from kombu import pools
from django.db import connection
from django.utils import timezone

from care.models import CaseloadAssignment
from feedback.models import CheckinEmail, CheckinInvitation
from feedback.services import checkins as services
from feedback.services import emails as email_services
from feedback.tasks import send_checkin_email
from feedback.tests.checkin_support import checkin_world, plan_for
from feedback.tests.smtp_sink import SmtpSink, free_port
from portal.celery import app as celery_app
from portal.testing import AssignmentFactory, ClientFactory
from portal.tests.test_celery_worker import ROOT, worker_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]
VISIBILITY_TIMEOUT = 3
DEADLINE = 40  # seconds to wait for the worker at most, per step


# --- a private Redis ---------------------------------------------------------------------------


class RedisServer:
    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.dir = tmp_path / "redis"
        self.dir.mkdir()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                if client.ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        """A restart loses everything: no persistence, like a crashed broker."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def queued(self) -> int:
        return redis.Redis(port=self.port).llen("celery")


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(tmp_path).start()
    with producer_to(server.url):
        yield server
    server.stop()


@contextmanager
def producer_to(url: str):
    """Send this test's tasks to `url` (Celery pools the connection to the old broker)."""
    old = celery_app.conf.broker_url
    celery_app.conf.task_always_eager = False

    def forget_pools():
        # kombu keeps pools in a registry keyed by broker URL: empty it, or the original
        # broker's pool would come back closed afterwards.
        pools.reset()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.broker_url = url
    forget_pools()
    try:
        yield
    finally:
        celery_app.conf.broker_url = old
        forget_pools()


# --- a real worker ---------------------------------------------------------------------------


class Worker:
    def __init__(self, tmp_path: Path, broker: RedisServer, smtp: SmtpSink):
        self.env = worker_env(tmp_path) | {
            "REDIS_URL": broker.url,
            "CELERY_BROKER_URL": broker.url,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "EMAIL_RETRY_BACKOFF_SECONDS": "1",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_USE_TLS": "0",
            "EMAIL_USE_SSL": "0",
            "SITE_URL": "http://testserver",
        }
        self.proc = None
        self.output: list[str] = []

    def start(self):
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        assert self.ready.wait(DEADLINE), self.log()
        return self

    def _read(self, proc):
        for line in proc.stdout:
            self.output.append(line)
            if " ready." in line:
                self.ready.set()

    def kill(self):
        """SIGKILL: no clean-up, no ack, the database connection just drops."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def refused(self) -> int:
        """Send tasks that found their e-mail sent already and did nothing."""
        return sum("succeeded" in line and "'nothing'" in line for line in self.output)

    def log(self) -> str:
        return "".join(self.output[-60:])


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    sink.release()
    sink.stop()


@pytest.fixture
def worker(tmp_path, broker, smtp):
    worker = Worker(tmp_path, broker, smtp)
    yield worker
    worker.stop()


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def world(world_a):
    assert connection.vendor == "postgresql"
    world = checkin_world(world_a)
    for _ in range(2):  # three clients of Cleo's in all
        client = ClientFactory(practice=world.practice)
        AssignmentFactory(practice=world.practice, client=client, clinician=world.clinician)
    world.clients = [
        a.client for a in CaseloadAssignment.unscoped.filter(clinician=world.clinician)
    ]
    return world


def due_checkins(world) -> list[CheckinInvitation]:
    """Plans for each of Cleo's clients, and their invitations (sends queued on commit)."""
    for client in world.clients:
        plan_for(world, client=client, cadence="every_n_days", every=7)
    with world.scope():
        created = services.create_due_invitations(practice=world.practice)
    assert len(created) == len(world.clients)
    return created


def wait_for(condition, what: str, worker: Worker, seconds: float = DEADLINE):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    states = list(CheckinEmail.unscoped.values_list("pk", "kind", "status", "attempts"))
    pytest.fail(f"timed out waiting for {what}; e-mails: {states}\n{worker.log()}")


def sent_count() -> int:
    return CheckinEmail.unscoped.filter(status="sent").count()


def assert_each_sent_once(invitations, smtp: SmtpSink, worker: Worker):
    time.sleep(VISIBILITY_TIMEOUT + 1)  # let any redelivered duplicate arrive and be refused
    emails = CheckinEmail.unscoped.filter(invitation__in=invitations)
    assert sorted(e.status for e in emails) == ["sent"] * len(invitations), worker.log()
    bodies = smtp.bodies()
    assert len(bodies) == len(invitations), (bodies, worker.log())
    for invitation in invitations:
        link = f"http://testserver/c/{invitation.token}/"
        assert sum(link in body for body in bodies) == 1, (link, worker.log())
    recipients = sorted(m["To"] for m in smtp.messages)
    assert recipients == sorted(i.client.membership.email for i in invitations)


# --- the tests --------------------------------------------------------------------------------


def test_a_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(world, smtp, worker):
    smtp.start()
    smtp.hold_next()  # the first message is read, then its "250" never comes
    invitations = due_checkins(world)
    worker.start()
    assert smtp.held.wait(DEADLINE), worker.log()
    worker.kill()
    smtp.release()  # too late: the sender is gone, so the message was never accepted
    wait_for(lambda: smtp.dropped == 1, "the held message to be dropped", worker)
    first_round = sent_count()
    assert first_round == len(smtp.messages) == 0  # the held one was the first

    # acks_late: the killed task's message was never acked. Once the visibility timeout has
    # passed, the next worker to connect puts it back in the queue (so does any running
    # worker's periodic check, which is slower).
    time.sleep(VISIBILITY_TIMEOUT + 0.5)
    worker.start()
    wait_for(lambda: sent_count() == len(invitations), "all e-mails sent", worker)
    assert_each_sent_once(invitations, smtp, worker)


def test_a_restarted_redis_loses_and_doubles_nothing(world, smtp, broker, worker):
    smtp.start()
    invitations = due_checkins(world)  # queued while no worker runs ...
    assert broker.queued() == len(invitations)
    broker.restart()  # ... and lost with the broker
    assert broker.queued() == 0
    worker.start()
    time.sleep(2)
    assert sent_count() == 0  # nothing left to deliver them: only the database knows

    # The sweeper finds them (their dispatch is older than the grace period) and dispatches
    # them again, twice over for good measure.
    later = timezone.now() + email_services.UNSENT_GRACE + timedelta(minutes=1)
    with world.scope():
        assert email_services.release_unsent_emails(practice=world.practice, now=later) \
            == len(invitations)
        assert email_services.release_unsent_emails(
            practice=world.practice, now=later + email_services.UNSENT_GRACE * 2
        ) == len(invitations)
    wait_for(lambda: sent_count() == len(invitations), "all e-mails sent", worker)

    # A blip while the worker is connected: it reconnects, and a duplicate is refused.
    broker.restart()
    email = CheckinEmail.unscoped.filter(invitation=invitations[0]).get()
    refused_before = worker.refused()
    for _ in range(2):
        send_checkin_email.delay(world.practice.pk, email.pk)
    wait_for(lambda: worker.refused() == refused_before + 2, "the duplicates to be refused",
             worker)
    assert_each_sent_once(invitations, smtp, worker)


def test_with_smtp_down_the_send_is_retried_and_goes_out_once_when_it_is_back(
    world, smtp, worker
):
    invitations = due_checkins(world)  # nothing listens on the SMTP port yet
    worker.start()
    wait_for(
        lambda: all(e.attempts >= 2 for e in CheckinEmail.unscoped.all()),
        "two failed attempts per e-mail", worker,
    )
    assert sent_count() == 0 and smtp.messages == []
    assert not CheckinEmail.unscoped.filter(status="failed").exists()

    smtp.start()
    wait_for(lambda: sent_count() == len(invitations), "all e-mails sent", worker)
    assert_each_sent_once(invitations, smtp, worker)
