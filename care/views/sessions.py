"""Sessions and the client's agenda. Thin: access helper, form, service, redirect.

Pages shared by staff (care: URLs, with a client id) and the client (my: URLs, no id) take an
optional client_id and resolve the client with client_in_view. Role checks are in the routes.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Membership
from care.access import access_agenda_item, access_session, client_in_view
from care.forms.sessions import AgendaHandleForm, AgendaItemForm, SessionForm, SessionStatusForm
from care.selectors import sessions as selectors
from care.selectors.clients import care_team
from care.services import sessions as services
from care.services.notifications import mark_read
from portal.audit.models import Action as Audit
from portal.audit.services import record_request_event, record_staff_event


def is_staff(request) -> bool:
    return request.membership.role in Membership.STAFF_ROLES


def page_url(request, name: str, client, **kwargs) -> str:
    """The page `name` in the viewer's namespace: care:<name> for staff, my:<name> for a client."""
    slug = request.practice.slug
    if is_staff(request):
        return reverse(
            f"care:{name}", kwargs={"practice_slug": slug, "client_id": client.pk, **kwargs}
        )
    return reverse(f"my:{name}", kwargs={"practice_slug": slug, **kwargs})


def add_service_error(form, error: ValidationError, field_map: dict | None = None) -> None:
    """Show a service's ValidationError on the form: on the field it names, else at the top."""
    field_map = field_map or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        target = field_map.get(field, field)
        form.add_error(target if target in form.fields else None, errors)


def when(session) -> str:
    """A session's start in the practice's time zone, for messages."""
    return formats.date_format(timezone.localtime(session.starts_at), "l j F, H:i")


# --- staff context for the client page (a panel) -------------------------------------------------


def staff_panel_context(request, client) -> dict:
    """For the sessions panel on the staff client page. Viewing the page reads the agenda news."""
    context = selectors.staff_panel(client, request.membership)
    marked = 0
    if context["unread_areas"].get("agenda"):  # nothing unread: nothing to mark
        marked = mark_read(recipient=request.membership, client=client, area="agenda")
    # The header's unread badge, already counted (care.context_processors).
    request.unread_notifications = context.pop("unread_total") - marked
    return context


# --- the sessions page ---------------------------------------------------------------------------


def _session_form(request, client, data=None, session=None):
    return SessionForm(
        data,
        time_zone=request.practice.time_zone,
        actor=request.membership,
        team=care_team(client),
        session=session,
    )


def _render_sessions(request, client, *, session_form=None, agenda_form=None, status=200):
    context = {"client": client, **selectors.session_lists(client)}
    if is_staff(request):
        context["session_form"] = session_form or _session_form(request, client)
        template = "care/sessions/staff_sessions.html"
    else:
        agenda = selectors.outstanding_agenda(client)
        context.update(
            agenda_form=agenda_form or AgendaItemForm(),
            agenda_groups=selectors.agenda_by_kind(agenda),
            agenda_count=len(agenda),
            handled_agenda=selectors.handled_agenda(client),
        )
        template = "care/sessions/my_sessions.html"
    return render(request, template, context, status=status)


@require_GET
def sessions_page(request, client_id=None):
    client = client_in_view(request, client_id)
    record_staff_event(request, Audit.VIEW_CARE_RECORD, target=client, detail={"page": "sessions"})
    return _render_sessions(request, client)


@require_POST
def session_new(request, client_id):
    client = client_in_view(request, client_id)
    form = _session_form(request, client, request.POST)
    if form.is_valid():
        try:
            session = services.schedule_session(
                practice=request.practice,
                actor=request.membership,
                client=client,
                **form.service_kwargs(),
            )
        except ValidationError as error:
            add_service_error(form, error, {"starts_at": "date"})
        else:
            record_request_event(request, Audit.CHANGE_CARE_RECORD, target=session)
            messages.success(request, f"The session on {when(session)} is saved.")
            return redirect(page_url(request, "sessions", client))
    return _render_sessions(request, client, session_form=form, status=400)


@require_http_methods(["GET", "POST"])
def session_edit(request, client_id, session_id):
    client = client_in_view(request, client_id)
    session = access_session(client, session_id)
    if request.method == "GET":
        record_request_event(request, Audit.VIEW_CARE_RECORD, target=session)
    form = _session_form(request, client, request.POST or None, session=session)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_session(
                practice=request.practice,
                actor=request.membership,
                session=session,
                **form.service_kwargs(),
            )
        except ValidationError as error:
            add_service_error(form, error, {"starts_at": "date"})
        else:
            record_request_event(request, Audit.CHANGE_CARE_RECORD, target=session)
            messages.success(request, f"The session on {when(session)} is updated.")
            return redirect(page_url(request, "sessions", client))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "care/sessions/session_edit.html",
        {"client": client, "session": session, "form": form},
        status=status,
    )


def _back(request, client):
    """Quick actions return to where they were pressed: the client page or the sessions page."""
    if request.POST.get("back") == "sessions":
        return redirect(page_url(request, "sessions", client))
    return redirect(
        reverse(
            "care:client", kwargs={"practice_slug": request.practice.slug, "client_id": client.pk}
        )
        + "#sessions-heading"
    )


@require_POST
def session_status(request, client_id, session_id):
    client = client_in_view(request, client_id)
    session = access_session(client, session_id)
    form = SessionStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a status from the list. Nothing was changed.")
        return _back(request, client)
    try:
        services.set_session_status(
            practice=request.practice,
            actor=request.membership,
            session=session,
            status=form.cleaned_data["status"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages) + " Nothing was changed.")
    else:
        record_request_event(
            request, Audit.CHANGE_CARE_RECORD, target=session, detail={"change": "status"}
        )
        messages.success(
            request,
            f"The session on {when(session)} is now marked {session.get_status_display().lower()}.",
        )
    return _back(request, client)


# --- the agenda ---------------------------------------------------------------------------------


@require_POST
def agenda_add(request):
    client = client_in_view(request)
    form = AgendaItemForm(request.POST)
    if form.is_valid():
        try:
            item = services.add_agenda_item(
                practice=request.practice,
                actor=request.membership,
                client=client,
                **form.cleaned_data,
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            if item.session is not None:
                messages.success(
                    request, f"Added to your agenda for your session on {when(item.session)}."
                )
            else:
                messages.success(
                    request,
                    "Added to your agenda. It will go with your next session once one is booked.",
                )
            return redirect(page_url(request, "sessions", client) + "#agenda-heading")
    return _render_sessions(request, client, agenda_form=form, status=400)


@require_POST
def agenda_withdraw(request, item_id):
    client = client_in_view(request)
    item = access_agenda_item(client, item_id)
    try:
        services.withdraw_agenda_item(
            practice=request.practice, actor=request.membership, item=item
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "That topic is off your agenda.")
    return redirect(page_url(request, "sessions", client) + "#agenda-heading")


@require_POST
def agenda_handle(request, client_id, item_id):
    client = client_in_view(request, client_id)
    item = access_agenda_item(client, item_id)
    form = AgendaHandleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose talked about or carry over. Nothing was changed.")
        return _back(request, client)
    extra = {}
    if "seen_session" in request.POST:
        extra["seen_session_id"] = form.cleaned_data["seen_session"]
    try:
        item = services.handle_agenda_item(
            practice=request.practice,
            actor=request.membership,
            item=item,
            outcome=form.cleaned_data["outcome"],
            **extra,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        record_request_event(
            request, Audit.CHANGE_CARE_RECORD, target=item, detail={"change": "handled"}
        )
        if item.status == item.Status.ADDRESSED:
            messages.success(request, "Marked as talked about.")
        elif item.session is not None:
            messages.success(request, f"Carried over to the session on {when(item.session)}.")
        else:
            messages.success(
                request, "Carried over. It will go with the next session once one is booked."
            )
    return _back(request, client)
