"""The practice a piece of code runs for: set per request by the middleware, per task by Celery."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.tenancy.models import Practice

_current_practice: ContextVar["Practice | None"] = ContextVar("current_practice", default=None)


class PracticeScopeMissing(RuntimeError):
    """A tenant table was queried with no practice in scope (fail closed, never all rows)."""


def current_practice() -> "Practice | None":
    return _current_practice.get()


def require_practice() -> "Practice":
    practice = _current_practice.get()
    if practice is None:
        raise PracticeScopeMissing(
            "No practice in scope: use practice_scope(practice) or the model's `unscoped` manager "
            "for deliberate cross-practice work."
        )
    return practice


def enter_practice_scope(practice: "Practice"):
    """Set the scope and return a token for exit_practice_scope (for the middleware)."""
    return _current_practice.set(practice)


def exit_practice_scope(token) -> None:
    _current_practice.reset(token)


@contextmanager
def practice_scope(practice: "Practice") -> Iterator["Practice"]:
    token = _current_practice.set(practice)
    try:
        yield practice
    finally:
        _current_practice.reset(token)
