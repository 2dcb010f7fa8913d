import time

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context


class AccountAdapter(DefaultAccountAdapter):
    """Self-signup stays open: a new account can create its own practice."""

    def is_open_for_signup(self, request):
        return True

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        # Staff are sent to set up MFA right after signing in; a password typed minutes ago
        # proves what re-entering it would, so only an older sign-in asks again.
        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        request = context.request
        if request is None or not request.user.is_authenticated:
            return True
        records = get_authentication_records(request, request.user)
        if not records:
            return True
        return time.time() - records[-1]["at"] >= account_settings.REAUTHENTICATION_TIMEOUT
