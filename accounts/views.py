from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import mfa, selectors, services
from accounts.access import access_staff_member
from accounts.forms import NewAccountForm, StaffInviteForm, StaffMfaForm
from accounts.models import Invitation, Membership
from portal.ratelimit import rate_limited
from portal.tenancy.access import require_role
from portal.tenancy.context import practice_scope

ADMIN = Membership.Role.ADMIN


@require_role(ADMIN)
def staff_list(request):
    members = list(selectors.staff_members())
    for member in members:
        member.latest_invitation = selectors.latest_invitation(member)
    return render(request, "accounts/staff_list.html", {"members": members})


@require_role(ADMIN)
@require_http_methods(["GET", "POST"])
def invite_staff(request):
    form = StaffInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invite_staff(
                practice=request.practice, actor=request.membership, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("accounts:staff", practice_slug=request.practice.slug)
    return render(request, "accounts/invite_staff.html", {"form": form})


@require_role(ADMIN)
@require_http_methods(["GET", "POST"])
def staff_security(request):
    practice = request.practice
    form = StaffMfaForm(
        # An unticked box sends nothing, so an empty POST is still a submission.
        request.POST if request.method == "POST" else None,
        initial={"require_staff_mfa": practice.require_staff_mfa},
    )
    if request.method == "POST" and form.is_valid():
        required = form.cleaned_data["require_staff_mfa"]
        mfa.set_staff_mfa_required(practice=practice, actor=request.membership, required=required)
        if required:
            messages.success(request, "Staff must now use two-factor authentication.")
        else:
            messages.warning(request, "Staff can now open the practice with a password alone.")
        return redirect("accounts:security", practice_slug=practice.slug)
    context = {"form": form, "without": mfa.staff_without_second_factor(practice)}
    return render(request, "accounts/staff_security.html", context)


def _staff_action(request, membership_id, action, done_message):
    member = access_staff_member(request.membership, membership_id)
    try:
        action(practice=request.practice, actor=request.membership, membership=member)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done_message.format(name=member.display_name))
    return redirect("accounts:staff", practice_slug=request.practice.slug)


@require_role(ADMIN)
@require_POST
def deactivate_staff(request, membership_id):
    return _staff_action(
        request, membership_id, services.deactivate_membership,
        "{name} can no longer sign in to this practice.",
    )


@require_role(ADMIN)
@require_POST
def reactivate_staff(request, membership_id):
    return _staff_action(
        request, membership_id, services.reactivate_membership, "{name} has access again."
    )


def _reinvite(*, practice, actor, membership):
    latest = selectors.latest_invitation(membership)
    if latest is None:
        return services.issue_invitation(practice=practice, actor=actor, membership=membership)
    return services.resend_invitation(practice=practice, actor=actor, invitation=latest)


def _revoke(*, practice, actor, membership):
    latest = selectors.latest_invitation(membership)
    if latest is None:
        raise ValidationError("There is no invitation to revoke.")
    services.revoke_invitation(practice=practice, actor=actor, invitation=latest)


@require_role(ADMIN)
@require_POST
def resend_staff_invitation(request, membership_id):
    return _staff_action(request, membership_id, _reinvite, "A new invitation link went to {name}.")


@require_role(ADMIN)
@require_POST
def revoke_staff_invitation(request, membership_id):
    return _staff_action(
        request, membership_id, _revoke, "The invitation link for {name} no longer works."
    )


# --- Accepting an invitation (no practice in the URL: the link is all the visitor has) -------


@rate_limited("accept_invitation")
@require_http_methods(["GET", "POST"])
def accept_invitation(request, token):
    invitation = services.find_invitation(token)
    if invitation is None or not invitation.practice.is_active:
        return render(request, "accounts/invitation_problem.html", {"problem": "invalid"}, status=404)
    state = invitation.state
    if state == Invitation.State.ACCEPTED and request.user == invitation.membership.user:
        return redirect("practice_home", practice_slug=invitation.practice.slug)
    if state != Invitation.State.PENDING:
        return render(
            request,
            "accounts/invitation_problem.html",
            {"problem": state, "practice": invitation.practice},
            status=410,
        )
    with practice_scope(invitation.practice):
        return _accept_pending(request, invitation)


def _accept_pending(request, invitation):
    email = invitation.membership.email
    existing = services.account_for_email(email)
    context = {"invitation": invitation, "practice": invitation.practice, "email": email}
    if request.user.is_authenticated and request.user != existing:
        return render(request, "accounts/invitation_other_account.html", context)
    if existing is not None:
        if not request.user.is_authenticated:
            return render(request, "accounts/invitation_sign_in.html", context)
        if request.method == "POST":
            try:
                services.accept_invitation(invitation=invitation, user=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                return _welcome(request, invitation)
        return render(request, "accounts/invitation_accept.html", context)
    form = NewAccountForm(request.POST or None, email=email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_account_and_accept(
                invitation=invitation,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend="allauth.account.auth_backends.AuthenticationBackend")
            return _welcome(request, invitation)
    context["form"] = form
    return render(request, "accounts/invitation_new_account.html", context)


def _welcome(request, invitation):
    messages.success(request, f"Welcome to {invitation.practice.name}.")
    return redirect("practice_home", practice_slug=invitation.practice.slug)
