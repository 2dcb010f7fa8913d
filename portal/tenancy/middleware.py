from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone

from accounts import mfa
from portal.tenancy.context import enter_practice_scope, exit_practice_scope
from portal.tenancy.selectors import active_membership_for


class PracticeMiddleware:
    """Resolves /p/<practice_slug>/ to the signed-in user's active membership.

    Sets request.practice, request.membership, the practice scope and the practice's time zone
    for the rest of the request. Anyone who is not an active member gets the same 404 as for a
    practice that does not exist. Staff of a practice that requires MFA, without a second
    factor, are sent to set one up first (accounts.mfa).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.practice = None
        request.membership = None
        try:
            return self.get_response(request)
        finally:
            token = getattr(request, "_practice_scope_token", None)
            if token is not None:
                exit_practice_scope(token)
                timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Views under /p/<slug>/ never see the slug: they get request.practice instead.
        slug = view_kwargs.pop("practice_slug", None)
        if slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = active_membership_for(user=request.user, practice_slug=slug)
        if membership is None:
            raise Http404("No such practice.")
        if mfa.must_enroll(membership):
            # Checked after the membership, so a non-member still gets the uniform 404.
            messages.warning(
                request,
                f"{membership.practice.name} asks staff to use two-factor authentication. "
                "Set up an authenticator app to continue.",
            )
            return redirect("mfa_activate_totp")
        request.practice = membership.practice
        request.membership = membership
        request._practice_scope_token = enter_practice_scope(membership.practice)
        timezone.activate(membership.practice.time_zone)
        return None
