import csv
import json
from datetime import UTC

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import Membership
from portal.audit import selectors
from portal.audit.forms import EventFilterForm
from portal.audit.models import AuditEvent
from portal.audit.services import record_request_event
from portal.tenancy.access import require_role

PAGE_SIZE = 50
CSV_COLUMNS = ["time_utc", "actor_email", "action", "target_type", "target_id", "ip", "user_agent",
               "detail"]


def _form(request):
    return EventFilterForm(
        request.GET or None, actor_choices=selectors.actor_choices(request.practice)
    )


@require_role(Membership.Role.ADMIN)
@require_GET
def event_list(request):
    form = _form(request)
    filters = form.filters()
    page = None
    if filters is not None:
        events = selectors.events_for_practice(request.practice, **filters)
        page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    record_request_event(
        request, AuditEvent.Action.VIEW_AUDIT_LOG,
        detail={"filters": form.used(), "page": page.number if page else 0},
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "audit/event_list.html", context)


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula: make it plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_role(Membership.Role.ADMIN)
@require_GET
def event_export(request):
    form = _form(request)
    filters = form.filters()
    if filters is None:
        messages.error(request, "Check the filters: nothing was exported.")
        return redirect("audit:events", practice_slug=request.practice.slug)
    events = selectors.events_for_practice(request.practice, **filters)
    rows = events.values_list(
        "created_at", "actor_email", "action", "target_type", "target_id", "ip", "user_agent",
        "detail",
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="audit-{request.practice.slug}-{stamp}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    count = 0
    # Written inside the request (not streamed), so it runs in the request's practice scope.
    for created_at, *rest, detail in rows.iterator(chunk_size=2000):
        writer.writerow(
            [created_at.astimezone(UTC).isoformat(), *map(_cell, rest),
             _cell(json.dumps(detail, sort_keys=True))]
        )
        count += 1
    record_request_event(
        request, AuditEvent.Action.EXPORT,
        detail={"kind": "audit_log", "rows": count, "filters": form.used()},
    )
    return response
