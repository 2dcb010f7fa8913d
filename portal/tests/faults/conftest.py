"""Fixtures for the fault tests: each test gets its own SMTP sink and redis-server, and the
workers it starts are stopped (or were killed) when it ends."""

import shutil

import pytest
from django.db import connection

from care.models import CaseloadAssignment
from feedback.tests.checkin_support import checkin_world, plan_for
from portal.testing import AssignmentFactory, ClientFactory
from portal.tests.faults.processes import RedisServer, Worker, producer_to
from portal.tests.faults.smtp import SmtpSink

needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server"
)


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    sink.gate.set()
    sink.stop()


@pytest.fixture
def broker(tmp_path):
    """A private redis-server (the machine's Redis is never restarted); this process's tasks
    go to it."""
    server = RedisServer(tmp_path).start()
    with producer_to(server.url):
        yield server
    server.kill()


@pytest.fixture
def workers(tmp_path, broker, smtp):
    """start(**options) -> a running Worker on the private broker; all stopped at the end."""
    started = []

    def start(**options) -> Worker:
        worker = Worker(tmp_path, broker_url=broker.url, smtp_port=smtp.port, **options)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def clients_with_due_plans(world_a, count: int):
    """`count` clients of Cleo's, each with a weekly e-mailed check-in plan that is due now
    (so the dispatch job creates one invitation and one e-mail per client)."""
    assert connection.vendor == "postgresql"
    world = checkin_world(world_a)
    have = CaseloadAssignment.unscoped.filter(clinician=world.clinician).count()
    for _ in range(count - have):
        client = ClientFactory(practice=world.practice)
        AssignmentFactory(practice=world.practice, client=client, clinician=world.clinician)
    world.clients = [
        a.client for a in CaseloadAssignment.unscoped.filter(clinician=world.clinician)
        .select_related("client")
    ]
    assert len(world.clients) == count
    for client in world.clients:
        plan_for(world, client=client, cadence="every_n_days", every=7)
    return world


def figures(record_property, **values):
    """Measured numbers: printed (run with -s to see them) and kept in JUnit XML."""
    for key, value in values.items():
        record_property(key, value)
    print("\nFIGURES", " ".join(f"{k}={v}" for k, v in values.items()))
