"""Check-in set-up pages. Staff: a client's measurement plans; admins: the practice's defaults.
Clients: their own check-in preferences. Thin: access helpers, selectors, forms, services."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Membership
from care.access import access_client, access_own_client
from feedback.forms.plans import (
    CADENCE_HELP,
    PlanForm,
    PreferencesForm,
    SettingsForm,
    add_service_error,
)
from feedback.models import MeasurementPlan
from feedback.selectors import checkins as selectors
from feedback.services import plans as services
from portal.audit.models import Action as Audit
from portal.audit.services import record_request_event
from portal.tenancy.access import require_role

staff_only = require_role(Membership.Role.ADMIN, Membership.Role.CLINICIAN)
admin_only = require_role(Membership.Role.ADMIN)
client_only = require_role(Membership.Role.CLIENT)


def _access_plan(client, plan_id: int) -> MeasurementPlan:
    plan = MeasurementPlan.objects.select_related("instrument").filter(
        client=client, pk=plan_id
    ).first()
    if plan is None:
        raise Http404
    plan.client = client
    return plan


def _to_client_page(request, client):
    return redirect(
        "feedback:client_checkins", practice_slug=request.practice.slug, client_id=client.pk
    )


@staff_only
def client_checkins(request, client_id):
    client = access_client(request.membership, client_id)
    record_request_event(request, Audit.VIEW_CHECKINS, target=client)
    return render(
        request,
        "feedback/checkins/client.html",
        {"client": client, **selectors.client_checkins_page(client)},
    )


@staff_only
@require_http_methods(["GET", "POST"])
def plan_new(request, client_id):
    client = access_client(request.membership, client_id)
    initial = services.plan_defaults(request.practice) | {"starts_on": timezone.localdate()}
    form = PlanForm(request.POST or None, new=True, client=client, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.create_measurement_plan(
                practice=request.practice,
                actor=request.membership,
                client=client,
                instrument=form.cleaned_data["instrument"],
                **form.service_kwargs(),
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_request_event(request, Audit.CHANGE_CHECKINS, target=plan)
            messages.success(
                request, f"{client.first_name} will be asked {plan.instrument.name} "
                         f"{plan.cadence_text}."
            )
            return _to_client_page(request, client)
    return render(
        request,
        "feedback/checkins/plan_form.html",
        {"client": client, "form": form, "plan": None, "cadence_help": CADENCE_HELP},
    )


@staff_only
@require_http_methods(["GET", "POST"])
def plan_edit(request, client_id, measurement_plan_id):
    client = access_client(request.membership, client_id)
    plan = _access_plan(client, measurement_plan_id)
    if plan.status == MeasurementPlan.Status.STOPPED:
        raise Http404
    initial = {f: getattr(plan, f) for f in services.PLAN_FIELDS} | {"starts_on": plan.starts_on}
    form = PlanForm(request.POST or None, new=False, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_measurement_plan(
                practice=request.practice, actor=request.membership, plan=plan,
                **form.service_kwargs(),
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_request_event(request, Audit.CHANGE_CHECKINS, target=plan)
            messages.success(request, f"The plan for {plan.instrument.name} is saved.")
            return _to_client_page(request, client)
    return render(
        request,
        "feedback/checkins/plan_form.html",
        {"client": client, "form": form, "plan": plan, "cadence_help": CADENCE_HELP},
    )


@staff_only
@require_POST
def plan_status(request, client_id, measurement_plan_id):
    client = access_client(request.membership, client_id)
    plan = _access_plan(client, measurement_plan_id)
    action = request.POST.get("action", "")
    try:
        plan = services.set_plan_status(
            practice=request.practice, actor=request.membership, plan=plan, action=action
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        record_request_event(request, Audit.CHANGE_CHECKINS, target=plan)
        done = {"pause": "paused", "resume": "running again", "stop": "stopped"}[action]
        messages.success(request, f"The plan for {plan.instrument.name} is {done}.")
    return _to_client_page(request, client)


@admin_only
@require_http_methods(["GET", "POST"])
def checkin_settings(request):
    row = services.feedback_settings(request.practice)
    form = SettingsForm(request.POST or None, initial=SettingsForm.initial_for(row))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_feedback_settings(
                practice=request.practice, actor=request.membership, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "The check-in settings are saved. New plans start from them.")
            return redirect("feedback:checkin_settings", practice_slug=request.practice.slug)
    return render(
        request,
        "feedback/checkins/settings.html",
        {"form": form, "row": row, "cadence_help": CADENCE_HELP},
    )


@client_only
@require_http_methods(["GET", "POST"])
def my_checkin_preferences(request):
    client = access_own_client(request.membership)
    prefs = services.checkin_preferences(client)
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,  # all unchecked posts nothing
        initial={"reminders_paused": prefs.reminders_paused, "email_opt_out": prefs.email_opt_out},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_checkin_preferences(
                practice=request.practice, actor=request.membership, client=client,
                **form.cleaned_data,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Your choices are saved.")
            return redirect("my:checkins", practice_slug=request.practice.slug)
    return render(
        request, "feedback/checkins/my_preferences.html", {"client": client, "form": form}
    )
