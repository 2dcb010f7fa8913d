"""Writing audit events. Other apps call these:

    record_event(practice=..., actor=user_or_None, action=AuditEvent.Action.X, target=obj)
    record_request_event(request, AuditEvent.Action.X, target=obj)
    record_staff_event(request, ...)  # the same, but only when the viewer is admin/clinician
                                      # (pages both a client and their care team use)

(record_account_event is for the sign-in/MFA receivers: account events have no practice.)

Call them only after access has succeeded (a refused request logs nothing), inside the same
transaction as the change they describe. `detail` holds ids, counts and field names, never
content: anything that looks like free text is refused with ValueError.
"""

import re

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models

from portal.audit.models import AuditEvent

USER_AGENT_MAX = AuditEvent._meta.get_field("user_agent").max_length
# A detail string is an identifier (a field name, a kind, a status), not prose.
_TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{0,64}$")
_MAX_DETAIL_ITEMS = 50


def clean_detail(detail) -> dict:
    """The detail dict, checked to hold only ids, counts, flags and identifier-like strings."""
    if detail is None:
        return {}
    if not isinstance(detail, dict):
        raise ValueError("Audit detail must be a dict.")
    if len(detail) > _MAX_DETAIL_ITEMS:
        raise ValueError("Audit detail is too large.")
    return {_token(key): _value(value) for key, value in detail.items()}


def _token(value) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise ValueError(
            "Audit detail may hold ids, counts and field names only, never content."
        )
    return value


def _value(value):
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return _token(value)
    if isinstance(value, list | tuple):
        if len(value) > _MAX_DETAIL_ITEMS:
            raise ValueError("Audit detail is too large.")
        return [_value(item) for item in value]
    raise ValueError(f"Audit detail values must be ids, counts or names, not {type(value)}.")


def _target(target, target_type: str, target_id):
    if target is not None:
        if not isinstance(target, models.Model):
            raise TypeError("target must be a model instance (or pass target_type/target_id).")
        return f"{target._meta.app_label}.{target._meta.model_name}", target.pk
    return target_type or "", target_id


def _user(actor):
    # A Membership is accepted too: services hold their actor as the membership.
    from accounts.models import Membership

    if isinstance(actor, Membership):
        actor = actor.user
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None  # AnonymousUser, or an invited membership without an account yet
    return actor


def _record(
    *, practice, actor, action, target, target_type, target_id, ip, detail, user_agent="",
    actor_email=None,
):
    if action not in AuditEvent.Action.values:
        raise ValueError(f"Unknown audit action {action!r}.")
    user = _user(actor)
    kind, pk = _target(target, target_type, target_id)
    return AuditEvent.unscoped.create(
        practice=practice,
        actor=user,
        actor_email=(actor_email or (user.email if user is not None else ""))[:254],
        action=action,
        target_type=kind[:100],
        target_id=pk,
        ip=ip or None,
        user_agent=(user_agent or "")[:USER_AGENT_MAX],
        detail=clean_detail(detail),
    )


def record_event(
    *,
    practice,
    actor,
    action,
    target=None,
    target_type="",
    target_id=None,
    ip=None,
    detail=None,
) -> AuditEvent:
    """Append one event. `actor` is a User (or None); `target` a model instance, recorded as
    ("app_label.model", pk) — or give target_type/target_id yourself."""
    return _record(
        practice=practice, actor=actor, action=action, target=target,
        target_type=target_type, target_id=target_id, ip=ip, detail=detail,
    )


def client_ip(request) -> str | None:
    """The client's address as allauth's rate limits see it: REMOTE_ADDR, or behind
    ALLAUTH_TRUSTED_PROXY_COUNT proxies the address the outermost trusted one saw."""
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):
        return None  # no address (a test request) or a header that does not fit: record none


def record_request_event(
    request, action, *, target=None, target_type="", target_id=None, detail=None
) -> AuditEvent:
    """record_event with practice, actor, IP and user agent taken from the request."""
    return _record(
        practice=getattr(request, "practice", None),
        actor=getattr(request, "user", None),
        action=action,
        target=target,
        target_type=target_type,
        target_id=target_id,
        ip=client_ip(request),
        detail=detail,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def record_account_event(request, user, action, *, target=None, detail=None, attempted_email=""):
    """An account event (sign-in/out, failures, MFA): it belongs to the person, so practice is
    null. `attempted_email` names who a failed sign-in claimed to be when no account matches."""
    return _record(
        practice=None,
        actor=user,
        action=action,
        target=target,
        target_type="",
        target_id=None,
        ip=client_ip(request) if request is not None else None,
        detail=detail,
        user_agent=request.META.get("HTTP_USER_AGENT", "") if request is not None else "",
        actor_email=attempted_email,
    )


def record_staff_event(
    request, action, *, target=None, target_type="", target_id=None, detail=None
) -> AuditEvent | None:
    """record_request_event for pages both sides use: only when a staff member (admin or
    clinician) acts. A client reading or writing their own record is not staff access."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.is_staff_role:
        return None
    return record_request_event(
        request, action, target=target, target_type=target_type, target_id=target_id,
        detail=detail,
    )
