from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse

from accounts import mfa, sessions


class SessionPolicyMiddleware:
    """After authentication: end idle or too-old sessions, and keep operators without a second
    factor out of the Django admin (practice staff are held by PracticeMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            response = self._enforce(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _enforce(self, request):
        ended = sessions.check(request)
        if ended is not None:
            limit = request.session.get(sessions.IDLE_LIMIT, 0) // 60
            logout(request)
            if ended == sessions.IDLE:
                text = f"You were signed out after {limit} minutes without activity."
            else:
                text = "Your session has ended. For your security, please sign in again."
            messages.info(request, text)
            return redirect_to_login(request.get_full_path())
        if (
            request.path.startswith(reverse("admin:index"))
            and request.user.is_staff
            and not mfa.has_second_factor(request.user)
        ):
            messages.warning(
                request, "Set up two-factor authentication before using the operator admin."
            )
            return redirect("mfa_activate_totp")
        return None
