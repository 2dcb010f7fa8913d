"""Dispatch in bulk: due invitations and their e-mails created with a constant number of
queries, and sent in batches over one SMTP connection (a real, tiny SMTP server), where one
e-mail's refusal or a dropped connection holds up only that e-mail. Celery runs eagerly here;
test_checkin_worker.py and portal/tests/faults run real workers."""

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from feedback import tasks
from feedback.models import CheckinEmail, CheckinInvitation
from feedback.services import checkins as services
from feedback.services import emails as email_services
from feedback.tests.checkin_support import (  # noqa: F401 (fixtures)
    attended_session,
    checkin_world,
    clock,
    plan_for,
    plans_began,
)
from feedback.tests.smtp_sink import SmtpSink
from portal.testing import AssignmentFactory, ClientFactory


@pytest.fixture
def world(world_a):
    return checkin_world(world_a)


@pytest.fixture
def sink(settings):
    """A real SMTP server that Django's SMTP backend sends to."""
    server = SmtpSink().start()
    settings.MAILERS = {"default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": 5},
    }}
    yield server
    server.release()
    server.stop()


def due_plans(world, count: int) -> list:
    """`count` more clients of Cleo's, each with a weekly e-mailed plan that is due now."""
    clients = []
    for _ in range(count):
        client = ClientFactory(practice=world.practice)
        AssignmentFactory(practice=world.practice, client=client, clinician=world.clinician)
        plan_for(world, client=client, cadence="every_n_days", every=7)
        clients.append(client)
    return clients


def queued_emails(world, count: int) -> list[CheckinEmail]:
    """`count` invitation e-mails, created and dispatched (their send tasks not run)."""
    due_plans(world, count)
    with world.scope():
        services.create_due_invitations(practice=world.practice)
    return list(CheckinEmail.unscoped.order_by("pk"))


# --- creating ---------------------------------------------------------------------------------

# BEGIN, plans, taken, versions, clinicians, preferences, settings, COMMIT, and a savepoint
# around each of the two INSERTs (invitations, e-mails).
QUERIES_TO_CREATE = 14


def test_creating_due_invitations_takes_the_same_queries_for_2_or_12(world):
    counts = []
    for count in (2, 10):  # the second run finds the first two taken and creates ten
        due_plans(world, count)
        with world.scope(), CaptureQueriesContext(connection) as queries:
            assert len(services.create_due_invitations(practice=world.practice)) == count
        counts.append(len(queries))
    assert counts == [QUERIES_TO_CREATE] * 2
    assert CheckinEmail.unscoped.filter(dispatched_at__isnull=False).count() == 12


def test_a_minute_with_nothing_new_due_reads_only_the_plans_and_their_invitations(world):
    due_plans(world, 10)
    with world.scope():
        assert len(services.create_due_invitations(practice=world.practice)) == 10
        with CaptureQueriesContext(connection) as queries:
            assert services.create_due_invitations(practice=world.practice) == []
    reads = [q["sql"].split(" FROM ")[1].split()[0] for q in queries if q["sql"].startswith("SELECT")]
    # Not the versions, the care teams or the clients' choices: nothing is made with them.
    assert reads == ['"feedback_measurementplan"', '"feedback_checkininvitation"']


def test_an_invitation_created_meanwhile_is_skipped_and_the_others_are_created(world):
    """The one-INSERT path falls back to one by one when another job got there first."""
    plans = [plan_for(world, client=c, cadence="every_n_days", every=7)
             for c in (world.client, world.shared_client)]
    with world.scope():
        (existing, _) = services.create_due_invitations(practice=world.practice)
        CheckinInvitation.objects.exclude(pk=existing.pk).delete()

        def again(plan):  # the same occurrence, as another job would have made it
            return services._new_invitation(**{
                f.attname: getattr(existing, f.attname) for f in CheckinInvitation._meta.fields
                if f.attname not in ("id", "nonce", "token_hash")
            } | {"plan_id": plan.pk, "client_id": plan.client_id})

        created = services._insert_invitations([again(p) for p in plans])
    assert [i.plan_id for i in created] == [p.pk for p in plans if p.pk != existing.plan_id]
    assert CheckinInvitation.unscoped.count() == 2


def test_every_nth_session_still_counts_sessions_older_than_any_open_check_in(
    world, clock, django_capture_on_commit_callbacks
):
    """Sessions are read only as far back as a check-in could still be open, except for
    "every Nth session" plans: they count every session since the plan began."""
    plan_for(world, cadence="every_nth_session", every=2, expiry_days=1, reminder_after_hours=6)
    plan_for(world, client=world.shared_client, expiry_days=1, reminder_after_hours=6)
    began = clock.now - timedelta(days=30)
    plans_began(world, began)
    attended_session(world, ago=timedelta(days=20))  # the first: long closed
    attended_session(world, client=world.shared_client, ago=timedelta(days=20))
    second = attended_session(world, ago=timedelta(hours=12))
    recent = attended_session(world, client=world.shared_client, ago=timedelta(hours=12))
    with world.scope():
        created = services.create_due_invitations(practice=world.practice)
    assert sorted(i.session_id for i in created) == sorted([second.pk, recent.pk])


# --- sending in batches -----------------------------------------------------------------------


def test_a_batch_goes_out_over_one_smtp_connection(world, sink):
    emails = queued_emails(world, 6)
    with world.scope():
        batch = email_services.send_checkin_emails(email_ids=[e.pk for e in emails])
    assert batch.counts == {"sent": 6} and batch.smtp_errors == []
    assert sink.connections == 1 and len(sink.messages) == 6
    assert sorted(m["Message-ID"] for m in sink.messages) == sorted(
        email_services.message_id(e) for e in emails
    )
    assert set(CheckinEmail.unscoped.values_list("status", "attempts")) == {("sent", 1)}
    with world.scope():  # again (a redelivered message): nothing goes out twice
        again = email_services.send_checkin_emails(email_ids=[e.pk for e in emails])
    assert again.counts == {"nothing": 6} and len(sink.messages) == 6


def test_one_refused_email_holds_up_only_itself(world, sink):
    emails = queued_emails(world, 5)
    address = {e.pk: e.invitation.client.membership.email.lower() for e in emails}
    busy, unknown = emails[1].pk, emails[3].pk
    sink.refuse = {address[busy]: "421 4.3.2 Too busy, closing",  # and it hangs up
                   address[unknown]: "550 5.1.1 No such user"}
    with world.scope(), pytest.raises(Retry) as retry:
        tasks.send_checkin_emails.delay(world.practice.pk, [e.pk for e in emails])
    # Only the e-mail refused for now is retried, with the usual backoff.
    assert retry.value.sig.args == (world.practice.pk, [busy])
    assert retry.value.when == tasks.retry_countdown(0)
    rows = {e.pk: e for e in CheckinEmail.unscoped.all()}
    assert (rows[busy].status, rows[busy].attempts) == ("pending", 1)
    assert (rows[unknown].status, rows[unknown].reason) == ("failed", tasks.PERMANENT_FAILURE)
    assert sorted(m["To"].lower() for m in sink.messages) == sorted(
        address[e.pk] for e in emails if e.pk not in (busy, unknown)
    )
    assert sink.connections == 3  # a fresh connection after each refusal

    sink.refuse = {}
    with world.scope():  # the retry
        assert tasks.send_checkin_emails.delay(world.practice.pk, [busy]).get() == {"sent": 1}
    assert CheckinEmail.unscoped.get(pk=busy).status == "sent" and len(sink.messages) == 4


def test_with_the_server_down_a_batch_tries_once_and_retries_every_email(world, sink):
    emails = queued_emails(world, 4)
    sink.stop()  # nothing listens: connection refused
    ids = [e.pk for e in emails]
    with world.scope(), pytest.raises(Retry) as retry:
        tasks.send_checkin_emails.delay(world.practice.pk, ids)
    assert retry.value.sig.args == (world.practice.pk, ids)
    assert set(CheckinEmail.unscoped.values_list("status", "attempts")) == {("pending", 1)}

    result = tasks.send_checkin_emails.apply(  # the last retry: given up, where staff see it
        args=(world.practice.pk, ids), retries=tasks.MAX_SEND_RETRIES
    )
    assert result.get() == {"failed": 4}
    assert set(CheckinEmail.unscoped.values_list("status", "reason")) == {
        ("failed", tasks.GAVE_UP)
    }


def test_a_dispatch_is_spread_over_tasks_of_at_most_a_batch():
    assert email_services.batches([1, 2, 3]) == [[1], [2], [3]]  # one each, as before
    assert [len(b) for b in email_services.batches(list(range(24)))] == [3] * 8
    sizes = [len(b) for b in email_services.batches(list(range(1000)))]
    assert sizes == [email_services.SEND_BATCH] * 20


def test_the_beat_job_sends_each_email_once_in_batches(world, sink,
                                                       django_capture_on_commit_callbacks):
    due_plans(world, 20)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.dispatch_due_checkins()
    tasks_queued = email_services.batches(list(range(20)))
    assert [len(b) for b in tasks_queued] == [3] * 6 + [2]  # spread over the workers
    assert len(sink.messages) == 20 and sink.connections == len(tasks_queued)
    assert set(CheckinEmail.unscoped.values_list("status", flat=True)) == {"sent"}


def test_an_unexpected_error_with_one_email_leaves_it_for_the_sweeper_and_goes_on(world, sink):
    emails = queued_emails(world, 3)
    broken = emails[1]
    Membership.unscoped.filter(pk=broken.invitation.client.membership_id).update(
        email="not an address@"  # the SMTP backend refuses to even try (ValueError)
    )
    with world.scope():
        batch = email_services.send_checkin_emails(email_ids=[e.pk for e in emails])
    assert batch.counts == {"sent": 2, "error": 1}
    assert CheckinEmail.unscoped.get(pk=broken.pk).status == "pending"
    assert len(sink.messages) == 2
