"""The audit event itself: append-only in Python and (on PostgreSQL) in the database, what
record_event stores, and that detail never takes content."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from portal.audit.models import AuditEvent, AuditLogIsAppendOnly
from portal.audit.services import clean_detail, record_event, record_request_event
from portal.tenancy.context import PracticeScopeMissing
from portal.testing import UserFactory

Action = AuditEvent.Action


@pytest.fixture
def event(world_a):
    return record_event(
        practice=world_a.practice, actor=world_a.clinician.user, action=Action.VIEW_CLIENT,
        target=world_a.client,
    )


def test_record_event_names_the_target_by_type_and_id(world_a, event):
    event.refresh_from_db()
    assert event.practice_id == world_a.practice.pk
    assert event.actor_id == world_a.clinician.user_id
    assert event.actor_email == world_a.clinician.user.email
    assert (event.target_type, event.target_id) == ("care.client", world_a.client.pk)
    assert event.detail == {} and event.created_at is not None


def test_a_membership_as_actor_is_recorded_as_its_user(world_a):
    e = record_event(practice=world_a.practice, actor=world_a.admin, action=Action.ROLE_CHANGE,
                     target_type="accounts.membership", target_id=7)
    assert e.actor_id == world_a.admin.user_id and e.target_id == 7


def test_request_events_take_practice_actor_ip_and_a_truncated_user_agent(world_a):
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="x" * 500)
    request.user = world_a.admin.user
    request.practice = world_a.practice
    e = record_request_event(request, Action.VIEW_PLAN, target=world_a.client)
    e.refresh_from_db()
    assert (e.practice_id, e.actor_id, e.ip) == (world_a.practice.pk, world_a.admin.user_id,
                                                 "203.0.113.9")
    assert e.user_agent == "x" * 200


@pytest.mark.parametrize("detail", [
    {"text": "I feel hopeless lately"},  # prose as a value
    {"I feel hopeless": 1},  # prose as a key
    {"items": ["fine", "not fine at all"]},
    {"nested": {"a": 1}},
    "a string",
])
def test_detail_refuses_anything_like_content(detail):
    with pytest.raises(ValueError):
        clean_detail(detail)


def test_detail_keeps_ids_counts_flags_and_field_names():
    detail = {"rows": 3, "ok": True, "fields": ["strengths", "review_date"], "kind": "audit_log"}
    assert clean_detail(detail) == detail


def test_an_unknown_action_is_refused(world_a):
    with pytest.raises(ValueError):
        record_event(practice=world_a.practice, actor=None, action="looked_around")
    assert not AuditEvent.unscoped.exists()


def test_python_refuses_to_change_or_delete_an_event(event):
    event.action = Action.EXPORT
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.unscoped.filter(pk=event.pk).update(action=Action.EXPORT)
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.unscoped.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.action == Action.VIEW_CLIENT


def test_the_default_manager_fails_closed_without_a_practice(event, world_a):
    with pytest.raises(PracticeScopeMissing):
        list(AuditEvent.objects.all())
    with world_a.scope():
        assert list(AuditEvent.objects.all()) == [event]


def test_deleting_a_user_keeps_their_events(world_a):
    user = UserFactory()
    event = record_event(practice=None, actor=user, action=Action.SIGN_IN)
    pk, email = user.pk, user.email
    user.delete()
    event.refresh_from_db()
    # History is not rewritten: no SET NULL, and the address says who it was.
    assert (event.actor_id, event.actor_email) == (pk, email)


def _no_pending_fk_checks():
    # The event's deferred foreign-key checks would block TRUNCATE for a reason of their own.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.postgres
@pytest.mark.parametrize("sql", [
    "UPDATE audit_auditevent SET action = 'export'",
    "DELETE FROM audit_auditevent",
    "TRUNCATE audit_auditevent",
])
def test_the_database_refuses_update_delete_and_truncate(event, sql):
    _no_pending_fk_checks()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    event.refresh_from_db()
    assert event.action == Action.VIEW_CLIENT


@pytest.mark.postgres
def test_only_djangos_flush_may_truncate(event):
    _no_pending_fk_checks()
    # The test runner's flush between transactional tests truncates every table on purpose.
    with transaction.atomic():
        connection.ops.execute_sql_flush(["TRUNCATE audit_auditevent"])
        assert not AuditEvent.unscoped.exists()
        transaction.set_rollback(True)
    assert AuditEvent.unscoped.filter(pk=event.pk).exists()
    # ... and the flag it sets ends with its transaction.
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_auditevent")


@pytest.mark.postgres
def test_row_level_security_shows_the_practice_in_scope_and_account_events(world_a, world_b):
    from portal.rls.testing import as_app_role

    a = record_event(practice=world_a.practice, actor=None, action=Action.VIEW_CLIENT)
    b = record_event(practice=world_b.practice, actor=None, action=Action.VIEW_CLIENT)
    account = record_event(practice=None, actor=world_a.clinician.user, action=Action.SIGN_IN)
    with as_app_role():
        with world_a.scope():
            assert set(AuditEvent.unscoped.values_list("pk", flat=True)) == {a.pk, account.pk}
            with pytest.raises(DatabaseError), transaction.atomic():
                record_event(practice=world_b.practice, actor=None, action=Action.EXPORT)
        # Outside any practice (a sign-in) only account events can be written or seen.
        signed_in = record_event(practice=None, actor=world_a.admin.user, action=Action.SIGN_IN)
        assert set(AuditEvent.unscoped.values_list("pk", flat=True)) == {account.pk,
                                                                         signed_in.pk}
    assert b.pk in set(AuditEvent.unscoped.values_list("pk", flat=True))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_transactional_tests_are_still_flushed_after_writing_events():
    # The flush after this test TRUNCATEs audit_auditevent: it errors here if the trigger
    # stopped Django's flush (every transactional test in the suite depends on it).
    record_event(practice=None, actor=None, action=Action.SIGN_IN_FAILED)
    assert AuditEvent.unscoped.count() == 1
