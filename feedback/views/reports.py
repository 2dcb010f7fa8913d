"""Trend report pages: a clinician's own trends, the practice report (admins) with CSV exports
and "recompute now", and supervision (an admin opens a clinician's trends and caseload summary,
each view audited). Thin: selectors read the stored snapshots, services start runs."""

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import Membership
from feedback.selectors import caseload as caseload_selectors
from feedback.selectors import reports as selectors
from feedback.services import reports as services
from portal.audit.models import AuditEvent
from portal.audit.services import record_request_event
from portal.tenancy.access import require_role

staff_only = require_role(Membership.Role.ADMIN, Membership.Role.CLINICIAN)
admin_only = require_role(Membership.Role.ADMIN)


@staff_only
def my_trends(request):
    context = selectors.trends_for(request.membership)
    context.update(subject=request.membership, supervising=False, run=selectors.latest_run())
    return render(request, "feedback/reports/trends.html", context)


def _staff_member(membership_id: int) -> Membership:
    member = (
        Membership.objects.filter(pk=membership_id, role__in=Membership.STAFF_ROLES)
        .select_related("user")
        .first()
    )
    if member is None:
        raise Http404
    return member


@admin_only
def clinician_trends(request, membership_id):
    """Supervision: a clinician's trends and a summary of their caseload (counts by what needs
    attention, no client names)."""
    member = _staff_member(membership_id)
    record_request_event(request, AuditEvent.Action.VIEW_REPORT, target=member)
    rows = caseload_selectors.caseload_rows(member)
    record_request_event(request, AuditEvent.Action.VIEW_CASELOAD_SUMMARY, target=member)
    context = selectors.trends_for(member)
    context.update(
        subject=member,
        supervising=True,
        run=selectors.latest_run(),
        caseload_size=len(rows),
        reason_counts=[
            (caseload_selectors.REASONS[k], n)
            for k, n in caseload_selectors.reason_counts(rows).items()
        ],
    )
    return render(request, "feedback/reports/trends.html", context)


@admin_only
@require_http_methods(["GET", "POST"])
def practice_report(request):
    if request.method == "POST":
        run, _ = services.start_run(practice=request.practice, actor=request.membership)
        messages.success(request, "The reports are being recomputed. This page shows the progress.")
        return redirect("feedback:practice_report", practice_slug=request.practice.slug)
    record_request_event(request, AuditEvent.Action.VIEW_REPORT, target_type="feedback.practice_report")
    context = selectors.practice_report()
    run = selectors.latest_run()
    context.update(run=run, run_done=services.run_progress(run) if run else 0)
    return render(request, "feedback/reports/practice.html", context)


def _interval_cells(interval, digits=2, percent=False):
    if interval is None:
        return ["", "", ""]
    scale = 100 if percent else 1
    return [round(v * scale, digits) for v in (interval.estimate, interval.low, interval.high)]


CSV_TABLES = ("clinicians", "months", "channels", "instruments")


@admin_only
def practice_report_csv(request):
    table = request.GET.get("table", "")
    if table not in CSV_TABLES:
        raise Http404
    report = selectors.practice_report()
    record_request_event(
        request, AuditEvent.Action.EXPORT, target_type="feedback.practice_report",
        detail={"table": table},
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{request.practice.slug}-report-{table}.csv"'
    )
    writer = csv.writer(response)
    practice = report["practice"]
    if table == "clinicians":
        writer.writerow([
            "clinician", "shown", "clients", "checkins", "alliance_mean", "alliance_low",
            "alliance_high", "shrunk_estimate", "shrunk_low", "shrunk_high", "response_rate_pct",
            "response_rate_low", "response_rate_high", "below_cutoff_pct", "ruptures_detected",
            "ruptures_acknowledged", "ruptures_repaired", "median_hours_to_acknowledge",
            "median_hours_to_repair",
        ])
        for f in report["clinicians"]:
            s = f.snapshot
            if not f.enough:
                writer.writerow([f.name, "no (below the minimum sample)", s.clients, s.checkins])
                continue
            writer.writerow([
                f.name, "yes", s.clients, s.checkins, *_interval_cells(f.alliance),
                *_interval_cells(f.shrunk), *_interval_cells(f.response_rate, 1, True),
                _interval_cells(f.below_cutoff, 1, True)[0], s.ruptures_detected,
                s.ruptures_acknowledged, s.ruptures_repaired, s.median_hours_to_acknowledge,
                s.median_hours_to_repair,
            ])
    elif table == "months":
        writer.writerow([
            "month", "invitations_sent", "invitations_completed", "checkins", "clients",
            "alliance_mean", "alliance_sd", "below_cutoff", "ruptures_detected",
            "ruptures_acknowledged", "ruptures_repaired",
        ])
        for r in report["monthly_rows"]:
            writer.writerow([
                r.period_start.isoformat(), r.invitations_sent, r.invitations_completed,
                r.checkins, r.clients, r.index_mean, r.index_sd, r.below_cutoff,
                r.ruptures_detected, r.ruptures_acknowledged, r.ruptures_repaired,
            ])
    elif table == "channels":
        writer.writerow(["channel", "sent", "completed"])
        for channel, row in sorted((practice.snapshot.channels if practice else {}).items()):
            writer.writerow([channel, row["sent"], row["completed"]])
    else:
        writer.writerow(["instrument", "responses", "clients", "measured_twice", "improved",
                         "deteriorated"])
        for row in practice.snapshot.instruments if practice else []:
            writer.writerow([row["name"], row["responses"], row["clients"], row["measured"],
                             row["improved"], row["deteriorated"]])
    return response
