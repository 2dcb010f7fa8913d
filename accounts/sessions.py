"""Session policy: idle sign-out, an absolute lifetime, and ending a person's sessions.

Timestamps live in the session itself (Unix seconds), so the policy works with any session
engine. Each signed-in session also has an allauth `UserSession` row (the "active sessions"
list at /accounts/sessions/), which is how every session of one user can be found and ended.
"""

import time
from datetime import UTC, datetime

from allauth.usersessions.models import UserSession
from django.conf import settings

from accounts.models import Membership
from portal.rls.db import rls_bypass

STARTED_AT = "rapport.session.started_at"
LAST_SEEN_AT = "rapport.session.last_seen_at"
IDLE_LIMIT = "rapport.session.idle_limit"
# The last-seen time is written at most this often, so a page view rarely writes anything.
REFRESH_SECONDS = 60

IDLE = "idle"
EXPIRED = "expired"


def idle_limit_seconds(user) -> int:
    """Staff (of any practice) and operators get the shorter staff limit; clients the longer."""
    with rls_bypass():  # the user's own memberships, across practices
        staff = user.is_staff or Membership.unscoped.filter(
            user=user, status=Membership.Status.ACTIVE, role__in=Membership.STAFF_ROLES
        ).exists()
    minutes = (
        settings.RAPPORT_IDLE_TIMEOUT_STAFF_MINUTES
        if staff
        else settings.RAPPORT_IDLE_TIMEOUT_CLIENT_MINUTES
    )
    return minutes * 60


def max_age_seconds() -> int:
    return settings.RAPPORT_SESSION_MAX_AGE_HOURS * 3600


def start(request, now: float | None = None, user=None) -> None:
    """Mark the session as signed in now (at sign-in, or the first request that finds none)."""
    now = time.time() if now is None else now
    request.session[STARTED_AT] = now
    _seen(request, now, user or request.user)


def check(request, now: float | None = None) -> str | None:
    """IDLE or EXPIRED when the signed-in session must end; else None (and it is kept alive)."""
    now = time.time() if now is None else now
    session = request.session
    started = session.get(STARTED_AT)
    last_seen = session.get(LAST_SEEN_AT)
    if started is None or last_seen is None:
        start(request, now)
        return None
    if now - started > max_age_seconds():
        return EXPIRED
    limit = session.get(IDLE_LIMIT)
    if limit is None:
        limit = idle_limit_seconds(request.user)
    if now - last_seen > limit:
        return IDLE
    if now - last_seen >= REFRESH_SECONDS:
        _seen(request, now, request.user)
    return None


def _seen(request, now: float, user) -> None:
    session = request.session
    session[LAST_SEEN_AT] = now
    # Re-read with the refresh, so a client who becomes staff gets the staff limit soon.
    session[IDLE_LIMIT] = idle_limit_seconds(user)
    if not request.META.get("REMOTE_ADDR"):
        return  # not a real request (the test client's force_login): tracked at the next refresh
    if not session.session_key:
        session.save()
    updated = UserSession.objects.filter(session_key=session.session_key).update(
        last_seen_at=_aware(now)
    )
    if not updated:  # a session signed in without allauth's flow (an invitation, a test)
        UserSession.objects.create_from_request(request, user=user, session=session)


def _aware(now: float):
    return datetime.fromtimestamp(now, tz=UTC)


def end_all_sessions(user) -> int:
    """Sign `user` out everywhere (deactivation). Returns how many sessions ended."""
    sessions = list(UserSession.objects.filter(user_id=user.pk))
    for user_session in sessions:
        user_session.end()
    return len(sessions)


def on_signed_in(sender, request, user, **kwargs) -> None:
    """(user_logged_in receiver) A sign-in starts a new lifetime, and the bookkeeping is done
    here rather than on the first page, so pages do the same work on every request."""
    if request is not None and hasattr(request, "session"):
        start(request, user=user)
