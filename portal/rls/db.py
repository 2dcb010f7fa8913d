"""Keeps PostgreSQL's RLS settings in step with the practice scope, statement by statement.

The policies (portal.rls.operations) read two transaction-local settings:

- ``rapport.practice_id``: the practice in scope (portal.tenancy.context.current_practice());
- ``rapport.rls_bypass``: ``on`` inside ``rls_bypass()``, the explicit escape hatch for
  deliberate cross-practice work (practice picker, token links, beat fan-out, operator admin).

An execute wrapper on every PostgreSQL connection compares what the next statement needs with
what the current transaction already has and runs ``set_config(..., true)`` only on a change
(normally once per transaction: the request middleware makes each request one transaction).
A statement in autocommit mode that needs a non-default setting (Celery services reading
outside ``atomic()``) gets its own BEGIN … COMMIT, so a value never outlives its transaction
and never sticks to a pooled connection. Outside any scope nothing is set: the policies see
NULL and return no tenant rows (fail closed).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from portal.rls.operations import BYPASS_SETTING, PRACTICE_SETTING
from portal.tenancy.context import current_practice

_bypass: ContextVar[bool | None] = ContextVar("rls_bypass", default=None)
# What code outside any app entry point and outside any practice scope gets. False in
# production. The test-suite plugin (portal.rls.pytest_plugin, suite run as the app role) sets
# True, so that factories and assertions in test code work like the owner would, while
# requests and Celery tasks (app_entry_point()) and code in a practice scope run under the
# policies.
AMBIENT_BYPASS = False

# (practice id, bypass) as the two settings' text values; '' is "not set".
DEFAULT = ("", "")
_UNKNOWN = object()  # after ROLLBACK TO SAVEPOINT: re-send before the next statement
SET_SQL = (
    f"SELECT set_config('{PRACTICE_SETTING}', %s, true), set_config('{BYPASS_SETTING}', %s, true)"
)


@contextmanager
def rls_bypass() -> Iterator[None]:
    """Let the enclosed queries see every practice's rows (greppable on purpose).

    Use it only around code that is cross-practice by nature and pair it with `unscoped`
    managers: finding a request's membership, the practice picker, single-use token links,
    beat jobs that fan out per practice, operator tools.
    """
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


@contextmanager
def app_entry_point() -> Iterator[None]:
    """A request or a Celery task: no bypass unless the code asks for rls_bypass() itself."""
    token = _bypass.set(False)
    try:
        yield
    finally:
        _bypass.reset(token)


def bypass_active() -> bool:
    value = _bypass.get()
    if value is None:
        # Ambient (suite test code) only outside a practice scope: code in a scope, a service
        # called by a test for instance, runs under the policies like a task would.
        return AMBIENT_BYPASS and current_practice() is None
    return value


def desired_settings() -> tuple[str, str]:
    practice = current_practice()
    return (str(practice.pk) if practice is not None else "", "on" if bypass_active() else "")


def _transaction_status(raw):
    return raw.info.transaction_status


def rls_execute_wrapper(execute, sql, params, many, context):
    from psycopg.pq import TransactionStatus

    connection = context["connection"]
    raw = connection.connection
    wanted = desired_settings()
    status = _transaction_status(raw)
    if status == TransactionStatus.IDLE:
        # No transaction open: whatever an earlier one set is gone.
        connection._rls_settings = DEFAULT
    if isinstance(sql, str) and sql.startswith("ROLLBACK TO SAVEPOINT"):
        # Often run in a failed transaction. It may undo a set_config made inside the
        # savepoint: send the settings again before the next statement.
        result = execute(sql, params, many, context)
        connection._rls_settings = _UNKNOWN
        return result
    if status == TransactionStatus.INERROR:
        return execute(sql, params, many, context)  # it fails anyway; don't mask the error

    if raw.autocommit and status == TransactionStatus.IDLE:
        if wanted == DEFAULT:
            return execute(sql, params, many, context)
        # One statement, one short transaction that carries the setting.
        raw.execute("BEGIN")
        try:
            raw.execute(SET_SQL, wanted)
            result = execute(sql, params, many, context)
        except BaseException:
            try:
                raw.execute("ROLLBACK")
            except Exception:  # the connection itself broke: report the original error
                pass
            raise
        raw.execute("COMMIT")
        return result

    if getattr(connection, "_rls_settings", DEFAULT) != wanted:
        raw.execute(SET_SQL, wanted)  # opens the transaction when this is its first statement
        connection._rls_settings = wanted
    return execute(sql, params, many, context)


def install(connection) -> None:
    """Add the wrapper to a PostgreSQL connection (the connection_created signal calls this)."""
    if connection.vendor != "postgresql":
        return
    if rls_execute_wrapper not in connection.execute_wrappers:
        # First in the list = outermost, so it runs before any query-capturing wrapper.
        connection.execute_wrappers.insert(0, rls_execute_wrapper)


def role_from_environment() -> str:
    import os

    return os.environ.get("RAPPORT_DB_ROLE", "")


def apply_role(connection) -> None:
    """SET ROLE to RAPPORT_DB_ROLE, if set: the test suite's way of running as the app role.

    Production does not need it: the app's DATABASE_URL logs in as that role directly.
    """
    role = role_from_environment()
    if role and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {connection.ops.quote_name(role)}")


def on_connection_created(sender, connection, **kwargs) -> None:
    install(connection)
    apply_role(connection)


# --- Celery: every task is an app entry point ---------------------------------------------------
_task_tokens: dict[str, object] = {}


def on_task_prerun(task_id=None, **kwargs) -> None:
    _task_tokens[task_id] = _bypass.set(False)


def on_task_postrun(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _bypass.reset(token)
        except ValueError:  # set in another context (should not happen with Celery's pools)
            pass


# --- migrate: deliberately across practices --------------------------------------------------
# The policies are FORCEd, so without this a data migration run by the owner would silently
# see and change no tenant rows. Data migrations that want one practice's view still get it by
# entering practice_scope().
_migrate_token = None


def on_pre_migrate(**kwargs) -> None:
    global _migrate_token
    if _migrate_token is None:  # sent once per app; the first one opens the bypass
        _migrate_token = _bypass.set(True)


def on_post_migrate(**kwargs) -> None:
    global _migrate_token
    if _migrate_token is not None:
        token, _migrate_token = _migrate_token, None
        try:
            _bypass.reset(token)
        except ValueError:  # reset from another context: fall back to "not set"
            _bypass.set(None)
