"""Row-level security on every tenant table, proven with raw SQL as the application role.

The suite normally connects as the superuser `postgres`, which bypasses RLS; these tests switch
the test transaction to `rapport_app` (LOGIN, NOSUPERUSER, NOBYPASSRLS, owns nothing) with
SET LOCAL ROLE, and read through the raw psycopg connection so that nothing in Python (managers,
the practice scope, portal.rls.db's wrapper) helps: only the policies decide.
"""

import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import ProgrammingError, connection, transaction

from care.models import CaseloadAssignment, Client
from portal.rls.checks import check_row_level_security, tenant_models, unprotected_tables
from portal.rls.db import app_entry_point
from portal.rls.testing import as_app_role, as_owner
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice, PracticeScopedModel
from portal.testing import InvitationFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Tables the demo seed must fill for both practices, so "sees no other practice's rows" is
# tested on real rows there and not only on empty tables.
MUST_HAVE_ROWS = {
    "accounts_membership",
    "accounts_invitation",
    "care_client",
    "care_caseloadassignment",
    "care_treatmentplan",
    "care_plangoal",
    "care_therapysession",
    "care_agendaitem",
    "feedback_instrument",
    "feedback_instrumentitem",
    "feedback_checkinresponse",
    "feedback_answer",
}


def tables() -> list[str]:
    return sorted(model._meta.db_table for model in tenant_models())


def counts_by_practice(raw, table: str) -> dict[int, int]:
    rows = raw.execute(f'SELECT practice_id, count(*) FROM "{table}" GROUP BY practice_id')
    return dict(rows.fetchall())


def set_settings(raw, practice_id="", bypass=""):
    # Straight to the database: the test states the settings, nothing derives them.
    raw.execute(
        "SELECT set_config('rapport.practice_id', %s, true), "
        "set_config('rapport.rls_bypass', %s, true)",
        [str(practice_id), bypass],
    )


def isolation_failures(a: Practice, b: Practice) -> list[str]:
    """As the app role, with each practice's setting: tables that show the other practice's
    rows, or not exactly the practice's own rows (compared with what the owner sees)."""
    raw = connection.connection
    with as_owner():
        set_settings(raw)
        truth = {table: counts_by_practice(raw, table) for table in tables()}
    failures = []
    with as_app_role():
        for practice in (a, b):
            set_settings(raw, practice.pk)
            for table in tables():
                seen = counts_by_practice(raw, table)
                # Rows without a practice exist only where the policy allows them to everyone
                # (EnableRowLevelSecurity(allow_null_practice=True): account audit events).
                expected = {
                    key: count for key, count in truth[table].items() if key in (practice.pk, None)
                }
                if seen != expected:
                    failures.append(f"{table} as {practice.slug}: saw {seen}, expected {expected}")
        set_settings(raw)
    return failures


@pytest.fixture
def demo():
    """Two fully seeded practices (the demo seed fills nearly every tenant table)."""
    call_command("seed_demo", force=True, stdout=io.StringIO())
    a, b = Practice.objects.get(slug="northside"), Practice.objects.get(slug="riverbend")
    for practice in (a, b):
        InvitationFactory(practice=practice)  # the seed's invitations are all accepted
    raw = connection.connection
    with as_owner():
        set_settings(raw)
        for table in MUST_HAVE_ROWS:
            counts = counts_by_practice(raw, table)
            assert counts.get(a.pk) and counts.get(b.pk), f"the seed left {table} empty"
    return a, b


# --- Every tenant table is protected ----------------------------------------------------------


def test_every_tenant_table_has_forced_rls_and_the_policy():
    labels = {model._meta.label for model in tenant_models()}
    scoped = {m._meta.label for m in apps.get_models() if issubclass(m, PracticeScopedModel)}
    assert scoped <= labels  # the checker looks at least at every PracticeScopedModel
    core = {"accounts.Membership", "accounts.Invitation", "care.Client", "feedback.Answer"}
    assert core <= labels
    assert unprotected_tables(connection) == []
    assert check_row_level_security(databases=["default"]) == []


def test_the_checker_reports_a_dropped_or_weakened_policy():
    with as_owner(), connection.cursor() as cursor:
        sid = transaction.savepoint_create()
        cursor.execute("DROP POLICY practice_isolation ON care_client")
        cursor.execute("ALTER TABLE feedback_answer NO FORCE ROW LEVEL SECURITY")
        cursor.execute("ALTER TABLE care_plangoal DISABLE ROW LEVEL SECURITY")
        cursor.execute("CREATE POLICY everyone ON care_comment USING (true)")
        problems = unprotected_tables(connection)
        errors = check_row_level_security(databases=["default"])
        transaction.savepoint_rollback(sid)
    def reported(label, text):
        return any(p.startswith(f"{label} ") and text in p for p in problems)

    assert reported("care.Client", "no practice_isolation policy")
    assert reported("feedback.Answer", "not forced")
    assert reported("care.PlanGoal", "not enabled")
    assert reported("care.Comment", "extra permissive policy everyone")
    assert len(problems) == 4, problems
    assert {e.id for e in errors} == {"rls.E001"} and len(errors) == 4
    assert unprotected_tables(connection) == []  # rolled back


# --- The policies at work (raw SQL, app role) ---------------------------------------------------


def test_each_practice_sees_only_its_own_rows_in_every_tenant_table(demo):
    a, b = demo
    raw = connection.connection
    with as_owner():
        set_settings(raw)
        both = {t for t in tables() if {a.pk, b.pk} <= set(counts_by_practice(raw, t))}
    assert MUST_HAVE_ROWS <= both
    assert isolation_failures(a, b) == []


def test_the_isolation_check_fails_when_a_policy_is_dropped(world_a, world_b):
    a, b = world_a.practice, world_b.practice
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("DROP POLICY practice_isolation ON care_client")
    # Enabled and forced but no policy: default deny, the practice's own clients vanish.
    failures = isolation_failures(a, b)
    assert failures and all(f.startswith("care_client ") for f in failures), failures
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no ALTER TABLE with pending FK checks
        cursor.execute("ALTER TABLE care_client DISABLE ROW LEVEL SECURITY")
    # No RLS at all: the other practice's clients show.
    failures = isolation_failures(a, b)
    assert any(f"care_client as {a.slug}" in f and str(b.pk) in f for f in failures), failures


def test_no_setting_sees_no_tenant_rows(world_a, world_b):
    raw = connection.connection
    with as_app_role():
        set_settings(raw)
        assert {t: counts_by_practice(raw, t) for t in tables()} == {t: {} for t in tables()}
        # A setting left over as '' (after a transaction-local value ended) is no practice too.
        raw.execute("SELECT set_config('rapport.practice_id', '', true)")
        assert counts_by_practice(raw, "care_client") == {}


def test_the_bypass_sees_every_practice(world_a, world_b):
    a, b = world_a.practice, world_b.practice
    raw = connection.connection
    with as_app_role():
        set_settings(raw, bypass="on")
        assert set(counts_by_practice(raw, "care_client")) == {a.pk, b.pk}
        set_settings(raw, bypass="yes")  # only exactly 'on' bypasses
        assert counts_by_practice(raw, "care_client") == {}
        set_settings(raw)


def test_writes_into_another_practice_are_refused(world_a, world_b):
    a, b = world_a.practice, world_b.practice
    b_client = Client.unscoped.filter(practice=b).first()
    a_client = Client.unscoped.filter(practice=a).first()
    a_assignment = CaseloadAssignment.unscoped.filter(practice=a).first()
    with app_entry_point(), as_app_role(), practice_scope(a):
        # USING hides B's rows from UPDATE and DELETE.
        assert Client.unscoped.filter(pk=b_client.pk).update(last_name="Changed") == 0
        assert CaseloadAssignment.unscoped.filter(practice=b).delete()[0] == 0
        # WITH CHECK refuses a row that would belong to B, moved or new.
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            Client.unscoped.filter(pk=a_client.pk).update(practice=b)
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            # bulk_create skips PracticeScopedModel.save()'s check: only the database is left.
            CaseloadAssignment.unscoped.bulk_create(
                [
                    CaseloadAssignment(
                        practice=b, client_id=b_client.pk, clinician_id=a_assignment.clinician_id
                    )
                ]
            )
        assert Client.unscoped.filter(pk=a_client.pk).update(last_name="Own row") == 1
    assert Client.unscoped.get(pk=b_client.pk).last_name != "Changed"
    assert CaseloadAssignment.unscoped.filter(practice=b).exists()


# --- The migration operation --------------------------------------------------------------------


def test_the_operation_reverses_and_reapplies():
    from django.db.migrations.loader import MigrationLoader

    from portal.rls.operations import EnableRowLevelSecurity

    operation = EnableRowLevelSecurity("care", "Client")
    state = MigrationLoader(connection).project_state()
    with as_owner():
        with connection.schema_editor() as editor:
            operation.database_backwards("rls", editor, state, state)
        assert [p for p in unprotected_tables(connection) if p.startswith("care.Client ")]
        with connection.schema_editor() as editor:
            operation.database_forwards("rls", editor, state, state)
        assert unprotected_tables(connection) == []
    name, args, kwargs = operation.deconstruct()
    assert (name, args, kwargs) == ("EnableRowLevelSecurity", ["care", "Client"], {})


def test_allow_null_practice_keeps_practice_rows_isolated(world_a, world_b):
    from portal.rls.operations import enable_sql

    a, b = world_a.practice.pk, world_b.practice.pk
    raw = connection.connection
    with as_owner():
        raw.execute("CREATE TABLE rls_probe (id serial PRIMARY KEY, practice_id bigint)")
        statements = enable_sql("rls_probe", connection.ops.quote_name, allow_null_practice=True)
        for statement in statements:
            raw.execute(statement)
        raw.execute("INSERT INTO rls_probe (practice_id) VALUES (%s), (%s), (NULL)", [a, b])
    with as_app_role():  # grants on every table, rls_probe included
        set_settings(raw, a)
        seen = raw.execute("SELECT practice_id FROM rls_probe ORDER BY id").fetchall()
        assert seen == [(a,), (None,)]
        raw.execute("INSERT INTO rls_probe (practice_id) VALUES (NULL), (%s)", [a])
        set_settings(raw)
        count = "SELECT count(*) FROM rls_probe WHERE practice_id IS {} NULL"
        assert raw.execute(count.format("")).fetchone() == (2,)
        assert raw.execute(count.format("NOT")).fetchone() == (0,)
        set_settings(raw, a)
        sid = transaction.savepoint_create()
        with pytest.raises(Exception, match="row-level security"):
            raw.execute("INSERT INTO rls_probe (practice_id) VALUES (%s)", [b])
        transaction.savepoint_rollback(sid)
        set_settings(raw)
