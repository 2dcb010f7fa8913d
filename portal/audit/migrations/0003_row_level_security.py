"""Row-level security on audit events (PostgreSQL), as on every tenant table, with one
difference: rows with no practice are account events (sign-in, sign-out, failures, MFA). They
belong to a person, not to a practice, are written outside any practice scope, and each
practice's viewer reads those of its own members (portal.audit.selectors). The policy keeps the
name and the practice/bypass test that portal.rls.checks requires.
"""

from django.db import migrations

from portal.rls.operations import POLICY_EXPRESSION, POLICY_NAME, disable_sql

TABLE = "audit_auditevent"
EXPRESSION = f"practice_id IS NULL OR ({POLICY_EXPRESSION})"


def enable(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    t = schema_editor.quote_name(TABLE)
    schema_editor.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    schema_editor.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    schema_editor.execute(
        f"CREATE POLICY {POLICY_NAME} ON {t} USING ({EXPRESSION}) WITH CHECK ({EXPRESSION})"
    )


def disable(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in disable_sql(TABLE, schema_editor.quote_name):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger"), ("rls", "0001_existing_tenant_tables")]

    operations = [migrations.RunPython(enable, disable, elidable=False)]
