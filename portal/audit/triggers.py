"""The database backstop for append-only audit events (PostgreSQL).

Migration 0002 (its SQL frozen there) adds statement-level triggers that raise on UPDATE,
DELETE and TRUNCATE of audit_auditevent. One deliberate exception: Django's flush (`manage.py
flush`, and the test runner between transactional tests) empties every table on purpose; it
sets a transaction-local flag that lets TRUNCATE through. Nothing else sets it.
"""

TRUNCATE_FLAG = "rapport.audit_truncate"
ALLOW_TRUNCATE_SQL = f"SET LOCAL {TRUNCATE_FLAG} = 'on'"


def allow_truncate_in_flush() -> None:
    """Let Django's flush (which truncates every table, by design) pass the TRUNCATE trigger."""
    try:
        from django.db.backends.postgresql.operations import DatabaseOperations
    except ImportError:  # no psycopg: SQLite only, which has no trigger to pass
        return

    original = DatabaseOperations.execute_sql_flush
    if getattr(original, "_audit_flag", False):
        return

    def execute_sql_flush(self, sql_list):
        # Runs inside flush's own atomic block, so SET LOCAL ends with it.
        return original(self, [ALLOW_TRUNCATE_SQL, *sql_list])

    execute_sql_flush._audit_flag = True
    DatabaseOperations.execute_sql_flush = execute_sql_flush
