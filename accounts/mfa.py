"""MFA policy: which memberships must have a second factor, and whether a user has one.

A second factor is an active TOTP app or a WebAuthn key/passkey. Recovery codes alone do not
count: they are the fallback for a lost factor, not a factor of their own.
"""

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from allauth.mfa.utils import decrypt

from portal.audit.models import AuditEvent
from portal.audit.services import record_event

SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_second_factor(user) -> bool:
    if not user.is_authenticated:
        return False
    return Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTORS).exists()


def must_enroll(membership) -> bool:
    """True when this membership may not see practice pages until its user sets up MFA."""
    return (
        membership.is_staff_role
        and membership.practice.require_staff_mfa
        and not has_second_factor(membership.user)
    )


def set_staff_mfa_required(*, practice, actor, required: bool):
    """A practice admin's choice; on by default. Turning it on holds back, at their next page,
    every staff member who has no second factor yet (the admin who turned it on included)."""
    if actor.role != actor.Role.ADMIN:
        raise PermissionError("Only a practice admin changes the MFA requirement.")
    if practice.require_staff_mfa != required:
        practice.require_staff_mfa = required
        practice.save(update_fields=["require_staff_mfa"])
        record_event(
            practice=practice, actor=actor, action=AuditEvent.Action.SECURITY_SETTING_CHANGED,
            target=practice, detail={"require_staff_mfa": required},
        )
    return practice


def staff_without_second_factor(practice):
    """Active staff of `practice` who have no second factor (shown to the admin)."""
    from accounts.models import Membership

    return [
        m for m in Membership.objects.filter(
            practice=practice, status=Membership.Status.ACTIVE, role__in=Membership.STAFF_ROLES
        ).select_related("user").exclude(
            user__in=Authenticator.objects.filter(type__in=SECOND_FACTORS).values("user")
        ).order_by("email")
    ]


def enroll_totp(user, secret: str | None = None) -> str:
    """Give `user` an authenticator app (TOTP) without the setup page; returns the secret.

    For the demo seed and tests only: real users set one up at /accounts/2fa/, which also
    shows them recovery codes. Idempotent: a user who has one keeps it.
    """
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        return decrypt(existing.data["secret"])
    secret = secret or generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def current_totp_code(user, at: float | None = None) -> str:
    """The code `user`'s authenticator app shows now (or at Unix time `at`)."""
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    secret = decrypt(authenticator.data["secret"])
    counter = int(time.time() if at is None else at) // mfa_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))
