"""Alert pages: acknowledge, record a repair, dismiss (staff on the client's care team, and
admins); mark a check-in entered in error; the practice's alert settings (admins).
Thin: access helpers, forms, services. Every "not yours" is the same 404 as "not there"."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import Membership
from care.access import access_client
from feedback.forms.alerts import (
    AcknowledgeForm,
    AlertSettingsForm,
    DismissForm,
    EnteredInErrorForm,
    RepairForm,
)
from feedback.forms.plans import add_service_error
from feedback.models import Alert, CheckinResponse
from feedback.selectors.alerts import access_alert
from feedback.services import alerts as services
from feedback.services.responses import mark_entered_in_error
from portal.audit.models import Action as Audit
from portal.audit.services import record_request_event
from portal.tenancy.access import require_role

staff_only = require_role(Membership.Role.ADMIN, Membership.Role.CLINICIAN)
admin_only = require_role(Membership.Role.ADMIN)


def _client_page(request, client, anchor="alerts"):
    url = reverse("care:client", kwargs={"practice_slug": request.practice.slug, "client_id": client.pk})
    return redirect(f"{url}#{anchor}")


ACTIONS = {
    # name: (form, service, text field, allowed statuses, kinds, page title, done message)
    "acknowledge": (
        AcknowledgeForm, services.acknowledge_alert, "note", (Alert.Status.OPEN,), None,
        "Acknowledge the alert", "The alert is acknowledged.",
    ),
    "repair": (
        RepairForm, services.record_repair, "note", Alert.UNRESOLVED, (Alert.Kind.RUPTURE,),
        "Record a repair", "The repair is recorded.",
    ),
    "dismiss": (
        DismissForm, services.dismiss_alert, "reason", Alert.UNRESOLVED, None,
        "Dismiss the alert", "The alert is dismissed.",
    ),
}


def _alert_action(request, client_id, alert_id, action):
    client = access_client(request.membership, client_id)
    alert = access_alert(client, alert_id)
    form_class, service, field, statuses, kinds, title, done = ACTIONS[action]
    if alert.status not in statuses or (kinds and alert.kind not in kinds):
        raise Http404
    if request.method == "GET":
        record_request_event(request, Audit.VIEW_ALERT, target=alert)
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service(
                practice=request.practice, actor=request.membership, alert=alert,
                **{field: form.cleaned_data[field]},
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_request_event(
                request, Audit.CHANGE_ALERT, target=alert, detail={"action": action}
            )
            messages.success(request, done)
            return _client_page(request, client)
    return render(
        request,
        "feedback/alerts/action.html",
        {"client": client, "alert": alert, "form": form, "title": title, "action": action},
        status=400 if form.errors else 200,
    )


@staff_only
@require_http_methods(["GET", "POST"])
def alert_acknowledge(request, client_id, alert_id):
    return _alert_action(request, client_id, alert_id, "acknowledge")


@staff_only
@require_http_methods(["GET", "POST"])
def alert_repair(request, client_id, alert_id):
    return _alert_action(request, client_id, alert_id, "repair")


@staff_only
@require_http_methods(["GET", "POST"])
def alert_dismiss(request, client_id, alert_id):
    return _alert_action(request, client_id, alert_id, "dismiss")


@staff_only
@require_http_methods(["GET", "POST"])
def response_error(request, client_id, response_id):
    client = access_client(request.membership, client_id)
    response = (
        CheckinResponse.objects.select_related("instrument_version__instrument")
        .filter(client=client, pk=response_id, entered_in_error_at__isnull=True)
        .first()
    )
    if response is None:
        raise Http404
    if request.method == "GET":
        record_request_event(request, Audit.VIEW_CHECKINS, target=response)
    form = EnteredInErrorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            mark_entered_in_error(
                practice=request.practice, actor=request.membership, response=response,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_request_event(request, Audit.CHANGE_CHECKINS, target=response)
            messages.success(
                request, "The check-in is marked as entered in error. It is kept, but no longer counts."
            )
            return _client_page(request, client, anchor="history")
    return render(
        request,
        "feedback/alerts/response_error.html",
        {"client": client, "response": response, "form": form},
        status=400 if form.errors else 200,
    )


@admin_only
@require_http_methods(["GET", "POST"])
def alert_settings(request):
    row = services.alert_settings(request.practice)
    form = AlertSettingsForm(request.POST or None, initial=AlertSettingsForm.initial_for(row))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_alert_settings(
                practice=request.practice, actor=request.membership, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "The alert settings are saved. They apply from the next check-in.")
            return redirect("feedback:alert_settings", practice_slug=request.practice.slug)
    return render(request, "feedback/alerts/settings.html", {"form": form, "row": row})
