"""MFA secrets encrypted at rest: TOTP keys and recovery-code seeds (allauth's MFA adapter hooks).

A copy of the database (a backup, a replica, an export) must not be enough to generate a staff
member's codes. The key lives outside the database: derived from SECRET_KEY, so rotating
SECRET_KEY through SECRET_KEY_FALLBACKS keeps old secrets readable (MultiFernet tries each),
or given as MFA_SECRET_KEYS (Fernet keys, newest first) to keep it apart from SECRET_KEY.
"""

import base64

from allauth.mfa.adapter import DefaultMFAAdapter
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

PREFIX = "fernet:"  # marks encrypted values; rows written before encryption have none


def _derived_key(secret: str) -> bytes:
    digest = salted_hmac("rapport.mfa-secrets", "fernet-key", secret=secret, algorithm="sha256")
    return base64.urlsafe_b64encode(digest.digest())


def cipher() -> MultiFernet:
    keys = list(getattr(settings, "MFA_SECRET_KEYS", None) or [])
    if not keys:
        keys = [_derived_key(s) for s in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(text: str) -> str:
    return PREFIX + cipher().encrypt(text.encode()).decode()


def decrypt(value: str) -> str:
    if not value.startswith(PREFIX):
        return value  # stored before encryption (accounts migration 0002 encrypts those)
    return cipher().decrypt(value.removeprefix(PREFIX).encode()).decode()


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt(encrypted_text)


def encrypt_stored_secrets(authenticators) -> int:
    """Encrypt the secrets of authenticators stored in the clear; how many changed. For the
    migration (historical models) and safe to repeat."""
    changed = 0
    for authenticator in authenticators:
        data = dict(authenticator.data)
        for field in ("secret", "seed"):
            if isinstance(data.get(field), str) and not data[field].startswith(PREFIX):
                data[field] = encrypt(data[field])
        if isinstance(data.get("migrated_codes"), list):
            data["migrated_codes"] = [
                code if code.startswith(PREFIX) else encrypt(code)
                for code in data["migrated_codes"]
            ]
        if data != authenticator.data:
            authenticator.data = data
            authenticator.save(update_fields=["data"])
            changed += 1
    return changed
