"""The migration operation that puts a tenant table behind row-level security.

Every migration that creates a tenant table (a PracticeScopedModel) adds, after its CreateModel:

    from portal.rls.operations import EnableRowLevelSecurity

    operations = [
        migrations.CreateModel(name="Report", ...),
        EnableRowLevelSecurity("feedback", "Report"),
    ]

portal/rls/tests/test_policies.py fails for a tenant table without the policy. On anything but
PostgreSQL the operation does nothing (SQLite has no row-level security).

`EnableRowLevelSecurity(..., allow_null_practice=True)` is for a table whose practice is null on
purpose for some rows (account-level audit events): rows with no practice are then readable and
writable without a practice setting; rows with a practice are isolated as usual.
"""

from django.db import migrations

POLICY_NAME = "practice_isolation"
PRACTICE_SETTING = "rapport.practice_id"
BYPASS_SETTING = "rapport.rls_bypass"

# A row is visible (USING) and writable (WITH CHECK) when it belongs to the practice of the
# current transaction, or when the code deliberately bypasses (portal.rls.rls_bypass()).
# current_setting(..., true) is NULL when never set and '' after a transaction-local value
# ended; NULLIF turns both into NULL, and `practice_id = NULL` is never true: fail closed.
POLICY_EXPRESSION = (
    f"practice_id = NULLIF(current_setting('{PRACTICE_SETTING}', true), '')::bigint "
    f"OR current_setting('{BYPASS_SETTING}', true) = 'on'"
)


# For a table whose practice is null on purpose for some rows (account-level audit events):
# those rows stay readable and writable with no practice set; practice rows are isolated as usual.
NULL_PRACTICE_EXPRESSION = f"practice_id IS NULL OR {POLICY_EXPRESSION}"


def enable_sql(table: str, quote, *, allow_null_practice: bool = False) -> list[str]:
    t = quote(table)
    expression = NULL_PRACTICE_EXPRESSION if allow_null_practice else POLICY_EXPRESSION
    return [
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
        # FORCE: the table owner is subject too, so an app that (wrongly) connects as the owner
        # is still held by the policy. Superusers and BYPASSRLS roles always bypass.
        f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {POLICY_NAME} ON {t} "
        f"USING ({expression}) WITH CHECK ({expression})",
    ]


def disable_sql(table: str, quote) -> list[str]:
    t = quote(table)
    return [
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {t}",
        f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY",
    ]


class EnableRowLevelSecurity(migrations.operations.base.Operation):
    """Enable and force RLS on a model's table with the practice_isolation policy (reversible)."""

    reversible = True
    reduces_to_sql = True
    # Changes no model state, so it can sit in any app's migration, for any app's model.
    elidable = False

    def __init__(self, app_label: str, model_name: str, *, allow_null_practice: bool = False):
        self.app_label = app_label
        self.model_name = model_name
        self.allow_null_practice = allow_null_practice

    def deconstruct(self):
        kwargs = {"allow_null_practice": True} if self.allow_null_practice else {}
        return (self.__class__.__qualname__, [self.app_label, self.model_name], kwargs)

    def state_forwards(self, app_label, state):
        pass

    def _run(self, schema_editor, state, sql_for):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        model = state.apps.get_model(self.app_label, self.model_name)
        if not self.allow_migrate_model(connection.alias, model):
            return
        for statement in sql_for(model._meta.db_table, schema_editor.quote_name):
            schema_editor.execute(statement)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        def sql(table, quote):
            return enable_sql(table, quote, allow_null_practice=self.allow_null_practice)

        self._run(schema_editor, to_state, sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, from_state, disable_sql)

    def describe(self):
        return f"Enable row-level security on {self.app_label}.{self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.model_name.lower()}"
