"""The application role: LOGIN, not superuser, no BYPASSRLS, owns nothing (docs/rls.md).

Used by the RLS tests and the suite run as the app role; production creates the same role once
(the SQL is in docs/rls.md).
"""

APP_ROLE = "rapport_app"


def ensure_app_role(connection, role: str = APP_ROLE, *, truncate: bool = False) -> None:
    """Create the role if the cluster lacks it and grant it DML on this database's tables.

    Runs as the owner/superuser connection. `truncate` is for the test suite only (transactional
    tests flush tables with TRUNCATE, which RLS does not cover); production never grants it.
    """
    q = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            # Roles are cluster-wide: a parallel test run may create it first.
            cursor.execute(
                "DO $$ BEGIN "
                f"CREATE ROLE {q} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        privileges = "SELECT, INSERT, UPDATE, DELETE" + (", TRUNCATE" if truncate else "")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {q}")
        cursor.execute(f"GRANT {privileges} ON ALL TABLES IN SCHEMA public TO {q}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {q}")
