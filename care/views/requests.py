"""Pace and ending: the client's requests, the care team's replies, and the ending plan.

Pages shared by staff (care: URLs) and the client (my: URLs) take an optional client_id.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from care.access import access_request, access_termination, client_in_view
from care.forms.sessions import (
    CareRequestForm,
    CloseTerminationForm,
    CommentForm,
    RespondForm,
    TerminationPlanForm,
)
from care.models import CareRequest, TerminationPlan
from care.selectors import sessions as selectors
from care.services import requests as services
from care.services.notifications import mark_read
from care.views.sessions import add_service_error, is_staff, page_url
from portal.audit.models import Action as Audit
from portal.audit.services import record_request_event, record_staff_event


def _respond_prefix(care_request) -> str:
    return f"request-{care_request.pk}"


# --- requests -----------------------------------------------------------------------------------


def _render_requests(request, client, *, request_form=None, respond_forms=None, status=200):
    since = selectors.unread_since(request.membership, client, "requests")
    mark_read(recipient=request.membership, client=client, area="requests")
    context = {
        "client": client,
        "staff": is_staff(request),
        "new_since": since,
        **selectors.requests_for(client),
    }
    if is_staff(request):
        respond_forms = respond_forms or {}
        for care_request in context["open_requests"]:
            care_request.respond_form = respond_forms.get(care_request.pk) or RespondForm(
                prefix=_respond_prefix(care_request)
            )
        context["open_termination"] = selectors.open_termination(client)
    else:
        kind = request.GET.get("kind")
        initial = {"kind": kind} if kind in CareRequest.Kind.values else {}
        context["request_form"] = request_form or CareRequestForm(initial=initial)
        context["open_termination"] = selectors.open_termination(client)
    return render(request, "care/sessions/requests.html", context, status=status)


@require_GET
def requests_page(request, client_id=None):
    client = client_in_view(request, client_id)
    record_staff_event(request, Audit.VIEW_CARE_RECORD, target=client, detail={"page": "requests"})
    return _render_requests(request, client)


@require_POST
def request_new(request):
    client = client_in_view(request)
    form = CareRequestForm(request.POST)
    if form.is_valid():
        try:
            care_request = services.create_request(
                practice=request.practice,
                actor=request.membership,
                client=client,
                **form.cleaned_data,
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            if care_request.kind == CareRequest.Kind.END:
                messages.success(
                    request,
                    "Thank you for telling us. Your clinician will reply here, and you can plan a "
                    "good ending together.",
                )
            else:
                messages.success(
                    request, "Your request is with your care team. They will reply here."
                )
            return redirect(page_url(request, "requests", client))
    return _render_requests(request, client, request_form=form, status=400)


@require_POST
def request_withdraw(request, request_id):
    client = client_in_view(request)
    care_request = access_request(client, request_id)
    try:
        services.withdraw_request(
            practice=request.practice, actor=request.membership, care_request=care_request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Your request is withdrawn.")
    return redirect(page_url(request, "requests", client))


@require_POST
def request_respond(request, client_id, request_id):
    client = client_in_view(request, client_id)
    care_request = access_request(client, request_id)
    form = RespondForm(request.POST, prefix=_respond_prefix(care_request))
    if form.is_valid():
        try:
            services.respond_to_request(
                practice=request.practice,
                actor=request.membership,
                care_request=care_request,
                response=form.cleaned_data["response"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_request_event(
                request, Audit.CHANGE_CARE_RECORD, target=care_request, detail={"change": "reply"}
            )
            messages.success(
                request, "Your reply was sent. The client can read it in their portal."
            )
            return redirect(page_url(request, "requests", client))
    if care_request.status != CareRequest.Status.OPEN:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(page_url(request, "requests", client))
    return _render_requests(request, client, respond_forms={care_request.pk: form}, status=400)


# --- the ending plan ----------------------------------------------------------------------------


def _render_ending(request, client, *, plan_form=None, comment_form=None, status=200):
    since = selectors.unread_since(request.membership, client, "ending")
    mark_read(recipient=request.membership, client=client, area="ending")
    plan = selectors.termination_for(client)
    context = {
        "client": client,
        "staff": is_staff(request),
        "plan": plan,
        "new_since": since,
        "comment_form": comment_form or CommentForm(),
    }
    if is_staff(request):
        if plan is not None and plan.status == TerminationPlan.Status.OPEN:
            context["plan_form"] = plan_form or TerminationPlanForm.for_plan(plan)
        else:
            context["plan_form"] = plan_form or TerminationPlanForm()
            context["end_request"] = selectors.open_end_request(client)
    return render(request, "care/sessions/ending.html", context, status=status)


@require_GET
def ending_page(request, client_id=None):
    client = client_in_view(request, client_id)
    record_staff_event(request, Audit.VIEW_CARE_RECORD, target=client, detail={"page": "ending"})
    return _render_ending(request, client)


@require_POST
def ending_open(request, client_id):
    client = client_in_view(request, client_id)
    form = TerminationPlanForm(request.POST)
    if form.is_valid():
        try:
            services.open_termination_plan(
                practice=request.practice,
                actor=request.membership,
                client=client,
                **form.cleaned_data,
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_request_event(
                request, Audit.CHANGE_CARE_RECORD, target=client, detail={"change": "ending_opened"}
            )
            messages.success(
                request, "The ending plan is open. The client can read it and comment."
            )
            return redirect(page_url(request, "ending", client))
    return _render_ending(request, client, plan_form=form, status=400)


@require_POST
def ending_update(request, client_id, termination_id):
    client = client_in_view(request, client_id)
    plan = access_termination(client, termination_id)
    form = TerminationPlanForm(request.POST)
    if form.is_valid():
        try:
            services.update_termination_plan(
                practice=request.practice, actor=request.membership, plan=plan, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_request_event(request, Audit.CHANGE_CARE_RECORD, target=plan)
            messages.success(request, "The ending plan is saved.")
            return redirect(page_url(request, "ending", client))
    if plan.status != TerminationPlan.Status.OPEN:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(page_url(request, "ending", client))
    return _render_ending(request, client, plan_form=form, status=400)


@require_POST
def ending_close(request, client_id, termination_id):
    client = client_in_view(request, client_id)
    plan = access_termination(client, termination_id)
    form = CloseTerminationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose completed or cancelled. Nothing was changed.")
        return redirect(page_url(request, "ending", client))
    try:
        plan = services.close_termination_plan(
            practice=request.practice,
            actor=request.membership,
            plan=plan,
            status=form.cleaned_data["status"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        record_request_event(
            request, Audit.CHANGE_CARE_RECORD, target=plan, detail={"change": "closed"}
        )
        messages.success(request, f"The ending plan is marked {plan.get_status_display().lower()}.")
    return redirect(page_url(request, "ending", client))


@require_POST
def ending_comment(request, termination_id, client_id=None):
    client = client_in_view(request, client_id)
    plan = access_termination(client, termination_id)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_on_termination(
                practice=request.practice,
                actor=request.membership,
                plan=plan,
                body=form.cleaned_data["body"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_staff_event(
                request, Audit.CHANGE_CARE_RECORD, target=plan, detail={"change": "comment"}
            )
            messages.success(request, "Your comment is added.")
            return redirect(page_url(request, "ending", client) + "#comments-heading")
    return _render_ending(request, client, comment_form=form, status=400)
