"""Account events from Django's and allauth's signals (the libraries' integration points).

Django's own user_logged_in / user_logged_out / user_login_failed are used rather than
allauth's user_logged_in: allauth's login ends in django.contrib.auth.login (so it is covered),
and so is the sign-in after accepting an invitation, which calls login() directly.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from portal.audit.models import AuditEvent
from portal.audit.services import record_account_event

Action = AuditEvent.Action
RECOVERY_CODES = "recovery_codes"


def on_logged_in(sender, request, user, **kwargs):
    record_account_event(request, user, Action.SIGN_IN)


def on_logged_out(sender, request, user, **kwargs):
    if user is not None:  # signing out while already signed out
        record_account_event(request, user, Action.SIGN_OUT)


def on_login_failed(sender, credentials, request=None, **kwargs):
    # `credentials` is already cleansed by Django (the password is masked); only the address
    # is used, to name the account (or, for no account, who the attempt claimed to be).
    email = str(credentials.get("email") or credentials.get("username") or "").strip().lower()
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first() if email else None
    record_account_event(
        request, user, Action.SIGN_IN_FAILED, detail={"stage": "password"},
        attempted_email="" if user is not None else email,
    )


def _kind(authenticator) -> str:
    return str(getattr(authenticator, "type", "") or "")


def on_authenticator_added(sender, request, user, authenticator, **kwargs):
    kind = _kind(authenticator)
    action = Action.RECOVERY_CODES_GENERATED if kind == RECOVERY_CODES else Action.MFA_ADDED
    record_account_event(request, user, action, target=authenticator, detail={"type": kind})


def on_authenticator_removed(sender, request, user, authenticator, **kwargs):
    record_account_event(
        request, user, Action.MFA_REMOVED, target=authenticator,
        detail={"type": _kind(authenticator)},
    )


def on_authenticator_reset(sender, request, user, authenticator, **kwargs):
    record_account_event(
        request, user, Action.RECOVERY_CODES_GENERATED, target=authenticator,
        detail={"type": _kind(authenticator)},
    )


def on_mfa_failed(sender, request, user, authenticator=None, **kwargs):
    detail = {"stage": "mfa", "type": _kind(authenticator)}
    if kwargs.get("reauthentication"):
        detail["reauthentication"] = True
    record_account_event(request, user, Action.SIGN_IN_FAILED, detail=detail)


def connect() -> None:
    from allauth.mfa import signals as mfa

    uid = "portal.audit"
    user_logged_in.connect(on_logged_in, dispatch_uid=f"{uid}.logged_in")
    user_logged_out.connect(on_logged_out, dispatch_uid=f"{uid}.logged_out")
    user_login_failed.connect(on_login_failed, dispatch_uid=f"{uid}.login_failed")
    mfa.authenticator_added.connect(on_authenticator_added, dispatch_uid=f"{uid}.mfa_added")
    mfa.authenticator_removed.connect(on_authenticator_removed, dispatch_uid=f"{uid}.mfa_removed")
    mfa.authenticator_reset.connect(on_authenticator_reset, dispatch_uid=f"{uid}.mfa_reset")
    mfa.authentication_failed.connect(on_mfa_failed, dispatch_uid=f"{uid}.mfa_failed")
