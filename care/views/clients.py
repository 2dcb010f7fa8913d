from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import Membership
from care.selectors import clients as selectors
from care.services import clients as services
from care.access import access_care_team_member, access_client
from care.forms.clients import AssignForm, ClientForm, TransferForm
from care.views import sessions as session_views
from portal.audit.models import Action as Audit
from portal.audit.services import record_request_event
from portal.tenancy.access import require_role

ADMIN, CLINICIAN = Membership.Role.ADMIN, Membership.Role.CLINICIAN
CLIENT_LIST_LIMIT = 200


@require_role(ADMIN, CLINICIAN)
def client_list(request):
    search = request.GET.get("q", "").strip()[:100]
    show_discharged = request.GET.get("discharged") == "1"
    if request.membership.role == ADMIN:
        clients = selectors.practice_clients(search=search, include_discharged=show_discharged)
    else:
        clients = selectors.caseload_for(request.membership, search=search)
    clients = list(clients[: CLIENT_LIST_LIMIT + 1])
    context = {
        "clients": clients[:CLIENT_LIST_LIMIT],
        "truncated": len(clients) > CLIENT_LIST_LIMIT,
        "search": search,
        "show_discharged": show_discharged,
    }
    return render(request, "care/client_list.html", context)


@require_role(ADMIN, CLINICIAN)
@require_http_methods(["GET", "POST"])
def client_new(request):
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client = services.create_client(
                practice=request.practice, actor=request.membership, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            note = " and invited" if form.cleaned_data["send_invitation"] else ""
            messages.success(request, f"{client.full_name} was added{note}.")
            return redirect("care:client", practice_slug=request.practice.slug, client_id=client.pk)
    return render(request, "care/client_new.html", {"form": form})


@require_role(ADMIN, CLINICIAN)
def client_detail(request, client_id):
    client = access_client(request.membership, client_id)
    record_request_event(request, Audit.VIEW_CLIENT, target=client)
    team = selectors.care_team(client)
    # The page shows the last invitation only to a client who has not joined yet.
    joined = client.membership.status == Membership.Status.ACTIVE
    context = {
        "client": client,
        "care_team": team,
        "invitation": None if joined else account_selectors.latest_invitation(client.membership),
        "assign_form": None,
        "transfer_form": None,
    }
    if request.membership.role == ADMIN and not client.is_discharged:  # the forms' only viewers
        team_ids = {m.pk for m in team}
        # One query for both forms' lists of clinicians (each would otherwise run its own).
        others = [m for m in selectors.assignable_clinicians() if m.pk not in team_ids]
        context["assign_form"] = AssignForm(exclude_ids=team_ids, listed=others)
        if team:
            context["transfer_form"] = TransferForm(current_team=team, listed=others)
    context.update(session_views.staff_panel_context(request, client))
    return render(request, "care/client_detail.html", context)


def _back_to_client(request, client):
    return redirect("care:client", practice_slug=request.practice.slug, client_id=client.pk)


def _run(request, client, action, done_message, **kwargs):
    try:
        action(practice=request.practice, actor=request.membership, client=client, **kwargs)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done_message)
    return _back_to_client(request, client)


@require_role(ADMIN, CLINICIAN)
@require_POST
def client_invite(request, client_id):
    client = access_client(request.membership, client_id)
    return _run(request, client, services.invite_client, f"An invitation link went to {client.email}.")


@require_role(ADMIN, CLINICIAN)
@require_POST
def client_revoke_invitation(request, client_id):
    client = access_client(request.membership, client_id)
    invitation = account_selectors.latest_invitation(client.membership)
    if invitation is None:
        messages.error(request, "There is no invitation to revoke.")
        return _back_to_client(request, client)
    try:
        account_services.revoke_invitation(
            practice=request.practice, actor=request.membership, invitation=invitation
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The invitation link no longer works.")
    return _back_to_client(request, client)


@require_role(ADMIN)
@require_POST
def client_assign(request, client_id):
    client = access_client(request.membership, client_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a clinician from the list.")
        return _back_to_client(request, client)
    clinician = form.cleaned_data["clinician"]
    return _run(
        request, client, services.assign_client,
        f"{clinician.display_name} now works with {client.full_name}.", clinician=clinician,
    )


@require_role(ADMIN)
@require_POST
def client_unassign(request, client_id, membership_id):
    client = access_client(request.membership, client_id)
    clinician = access_care_team_member(client, membership_id)
    return _run(
        request, client, services.end_assignment,
        f"{clinician.display_name} no longer works with {client.full_name}.", clinician=clinician,
    )


@require_role(ADMIN)
@require_POST
def client_transfer(request, client_id):
    client = access_client(request.membership, client_id)
    form = TransferForm(request.POST, current_team=selectors.care_team(client))
    if not form.is_valid():
        messages.error(request, "Choose who the client moves from and to.")
        return _back_to_client(request, client)
    return _run(
        request, client, services.transfer_client,
        f"{client.full_name} was transferred to {form.cleaned_data['to_clinician'].display_name}.",
        **form.cleaned_data,
    )


@require_role(ADMIN, CLINICIAN)
@require_POST
def client_discharge(request, client_id):
    client = access_client(request.membership, client_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm the discharge. Nothing was changed.")
        return _back_to_client(request, client)
    services.discharge_client(practice=request.practice, actor=request.membership, client=client)
    messages.success(request, f"{client.full_name} was discharged.")
    if request.membership.role == ADMIN:
        return _back_to_client(request, client)
    return redirect("practice_home", practice_slug=request.practice.slug)
