"""Run the whole test suite as the application role, under row-level security.

    RAPPORT_DB_ROLE=rapport_app pytest -p portal.rls.pytest_plugin

The test database is created and migrated as the connecting (owner) user; then the role is
created, granted, and every connection runs `SET ROLE rapport_app` (portal.rls.db.apply_role),
so RLS applies. Requests and Celery tasks run with no bypass (portal.rls.db.app_entry_point),
and so does any code inside a practice scope (a service a test calls in `world.scope()`); test
code outside a scope (factories, assertions through `unscoped`) keeps the owner's view through
AMBIENT_BYPASS, since it stands in for the operator setting up and inspecting the database.
CI (.ci/run) runs the suite this way.
"""

import os

import pytest

ROLE_ENV = "RAPPORT_DB_ROLE"
# Taken out of the environment at once, so the test database is created as the owner.
_ROLE = os.environ.pop(ROLE_ENV, "")


@pytest.fixture(scope="session", autouse=True)
def _suite_as_app_role(django_db_setup, django_db_blocker):
    if not _ROLE:
        yield
        return
    from django.db import connections

    from portal.rls import db
    from portal.rls.roles import ensure_app_role

    with django_db_blocker.unblock():
        postgres = [c for c in connections.all() if c.vendor == "postgresql"]
        for conn in postgres:
            ensure_app_role(conn, _ROLE, truncate=True)
        os.environ[ROLE_ENV] = _ROLE  # new connections (and worker subprocesses) SET ROLE
        db.AMBIENT_BYPASS = True
        for conn in postgres:
            db.apply_role(conn)
            with conn.cursor() as cursor:
                cursor.execute("SELECT current_user")
                assert cursor.fetchone()[0] == _ROLE
    yield
    os.environ.pop(ROLE_ENV, None)
    db.AMBIENT_BYPASS = False
    with django_db_blocker.unblock():
        for conn in connections.all(initialized_only=True):
            if conn.vendor == "postgresql" and conn.connection is not None:
                with conn.cursor() as cursor:
                    cursor.execute("RESET ROLE")
