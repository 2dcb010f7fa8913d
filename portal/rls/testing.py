"""Helpers for tests that run SQL as the application role inside the test's transaction."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from portal.rls.db import app_entry_point
from portal.rls.roles import APP_ROLE, ensure_app_role


def _current_user() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return cursor.fetchone()[0]


def _session_user() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_user")
        return cursor.fetchone()[0]


@contextmanager
def acting_as(role: str) -> Iterator[None]:
    """SET LOCAL ROLE for the block (needs a transaction: pytest-django's test one will do)."""
    previous = _current_user()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {quote(role)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {quote(previous)}")


@contextmanager
def as_owner() -> Iterator[None]:
    """The connecting (superuser/owner) role, even when the suite runs as the app role."""
    with acting_as(_session_user()):
        yield


@contextmanager
def as_app_role() -> Iterator[None]:
    """The application role: no superuser, no BYPASSRLS, owns no table; and, like a request or
    a task, no bypass unless the code asks for rls_bypass() (the suite run as the app role
    gives test code the owner's view otherwise)."""
    with as_owner():
        ensure_app_role(connection)
    with acting_as(APP_ROLE), app_entry_point():
        yield
