"""MFA secrets are encrypted at rest (accounts.mfa_secrets): a copy of the database does not
give anyone a staff member's codes, and sign-in with the app still works."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from cryptography.fernet import InvalidToken
from django.test import Client as HttpClient

from accounts.mfa import current_totp_code
from accounts.mfa_secrets import PREFIX, encrypt_stored_secrets
from portal.testing import PASSWORD, UserFactory, enroll_totp

pytestmark = pytest.mark.django_db
NOW = 1_800_000_000  # a fixed moment, so two codes compared come from the same 30 seconds


def stored(user, kind) -> dict:
    return Authenticator.objects.get(user=user, type=kind).data


def test_the_totp_key_is_stored_encrypted_and_sign_in_still_works(world_a):
    user = world_a.admin.user  # the world's staff are enrolled through enroll_totp
    secret = enroll_totp(user)

    data = stored(user, Authenticator.Type.TOTP)
    assert data["secret"].startswith(PREFIX) and secret not in data["secret"]
    http = HttpClient()
    http.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    http.post("/accounts/2fa/authenticate/", {"code": current_totp_code(user)})
    assert http.session.get("_auth_user_id") == str(user.pk)


def test_recovery_code_seeds_are_stored_encrypted_and_the_codes_still_work():
    user = UserFactory()
    codes = RecoveryCodes.activate(user)

    data = stored(user, Authenticator.Type.RECOVERY_CODES)
    assert data["seed"].startswith(PREFIX)
    first = codes.get_unused_codes()[0]
    assert first not in str(data) and codes.validate_code(first)


def test_a_rotated_secret_key_still_reads_old_secrets(settings):
    user = UserFactory()
    secret = enroll_totp(user)
    code = current_totp_code(user, at=NOW)
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" + "n" * 40, [old_key]
    assert current_totp_code(user, at=NOW) == code
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(InvalidToken):
        current_totp_code(user, at=NOW)  # without the old key the stored secret is unreadable
    assert secret


def test_secrets_stored_before_encryption_are_read_and_then_encrypted():
    user = UserFactory()
    legacy = Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    clear_code = current_totp_code(user, at=NOW)  # read as stored, without the prefix

    assert encrypt_stored_secrets(Authenticator.objects.filter(pk=legacy.pk)) == 1
    assert encrypt_stored_secrets(Authenticator.objects.filter(pk=legacy.pk)) == 0  # repeatable
    legacy.refresh_from_db()
    assert legacy.data["secret"].startswith(PREFIX)
    assert current_totp_code(user, at=NOW) == clear_code
