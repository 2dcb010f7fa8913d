"""Which tenant tables lack row-level security (PostgreSQL): the test and `manage.py check
--database default` both use it."""

from django.apps import apps
from django.core import checks

from portal.rls.operations import BYPASS_SETTING, POLICY_NAME, PRACTICE_SETTING


def tenant_models() -> list:
    """Every concrete model with a `practice` foreign key to the tenant, in any app.

    Wider than PracticeScopedModel on purpose: a table that points at a practice without the
    base class still holds that practice's rows.
    """
    from portal.tenancy.models import Practice

    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        if any(
            f.is_relation and f.many_to_one and f.related_model is Practice and f.name == "practice"
            for f in meta.concrete_fields
        ):
            found.append(model)
    return found


def unprotected_tables(connection) -> list[str]:
    """'<app.Model> (<table>): <problem>' for each tenant table without the full protection."""
    tables = {model._meta.db_table: model._meta.label for model in tenant_models()}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.qual, p.with_check,
                   p.cmd, p.permissive
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
              LEFT JOIN pg_policies p
                ON p.schemaname = n.nspname AND p.tablename = c.relname
               AND p.policyname = %s
             WHERE c.relname = ANY(%s) AND c.relkind IN ('r', 'p')
            """,
            [POLICY_NAME, list(tables)],
        )
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    problems = []
    for table, label in sorted(tables.items(), key=lambda item: item[1]):
        if table not in rows:
            continue  # not migrated yet: migrate's own checks cover that
        enabled, forced, qual, with_check, cmd, permissive = rows[table]
        missing = []
        if not enabled:
            missing.append("row-level security is not enabled")
        if not forced:
            missing.append("row-level security is not forced")
        if qual is None:
            missing.append(f"no {POLICY_NAME} policy")
        else:
            if cmd != "ALL" or permissive != "PERMISSIVE":
                missing.append(f"{POLICY_NAME} must be a permissive policy FOR ALL")
            for clause, text in (("USING", qual), ("WITH CHECK", with_check)):
                if not text or PRACTICE_SETTING not in text or BYPASS_SETTING not in text:
                    missing.append(f"{POLICY_NAME} {clause} does not test the practice setting")
        if missing:
            problems.append(f"{label} ({table}): " + "; ".join(missing))
    # Any other permissive policy would widen what practice_isolation allows (policies OR).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, policyname FROM pg_policies WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND policyname <> %s AND permissive = 'PERMISSIVE'",
            [list(tables), POLICY_NAME],
        )
        for table, policy in cursor.fetchall():
            problems.append(f"{tables[table]} ({table}): extra permissive policy {policy}")
    return problems


@checks.register(checks.Tags.database)
def check_row_level_security(app_configs=None, databases=None, **kwargs):
    from django.db import connections

    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        for problem in unprotected_tables(connection):
            errors.append(
                checks.Error(
                    f"Tenant table without row-level security: {problem}",
                    hint="Add portal.rls.operations.EnableRowLevelSecurity to the migration "
                    "that creates the table (docs/rls.md).",
                    id="rls.E001",
                )
            )
    return errors
