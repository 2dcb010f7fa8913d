"""Practice exports for admins (/p/<slug>/exports/) and a client's own data (/p/<slug>/my/data/)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import Membership
from care.access import access_own_client
from portal.audit.models import AuditEvent
from portal.audit.services import record_request_event
from portal.exports import own_data, services
from portal.exports.access import access_export_job
from portal.exports.forms import StartExportForm
from portal.exports.models import ExportJob
from portal.tenancy.access import require_role

ADMIN, CLIENT = Membership.Role.ADMIN, Membership.Role.CLIENT
JOBS_SHOWN = 20
REFRESH_SECONDS = 3


@require_role(ADMIN)
@require_http_methods(["GET", "POST"])
def export_list(request):
    form = StartExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                job = services.start_export(
                    practice=request.practice, actor=request.membership,
                    format=form.cleaned_data["format"],
                )
                record_request_event(request, AuditEvent.Action.EXPORT, target=job,
                                     detail={"format": job.format, "step": "started"})
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The export has started. This page updates until it is ready.")
            return redirect("exports:list", practice_slug=request.practice.slug)
    jobs = list(ExportJob.objects.select_related("created_by__user")[:JOBS_SHOWN])
    context = {
        "form": form,
        "jobs": jobs,
        # A meta refresh (no script: the CSP allows none without a nonce) while work is pending.
        "refresh": REFRESH_SECONDS if any(not job.is_finished for job in jobs) else None,
        "retention_days": settings.EXPORT_RETENTION_DAYS,
    }
    return render(request, "exports/export_list.html", context)


@require_role(ADMIN)
@require_GET
def export_download(request, job_id):
    job = access_export_job(request.membership, job_id)
    path = services.job_file(job) if job.is_downloadable else None
    if path is None or not path.is_file():
        raise Http404
    record_request_event(request, AuditEvent.Action.EXPORT, target=job,
                         detail={"format": job.format, "step": "downloaded"})
    content_type = "application/zip" if job.format == ExportJob.Format.CSV else "application/fhir+json"
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=job.download_name,
                            content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


@require_role(CLIENT)
@require_GET
def my_data(request):
    client = access_own_client(request.membership)
    data = own_data.client_data(client=client, viewer=request.membership)
    return render(request, "exports/my_data.html", {"client": client, "data": data})


@require_role(CLIENT)
@require_GET
def my_data_json(request):
    client = access_own_client(request.membership)
    data = own_data.client_data(client=client, viewer=request.membership)
    record_request_event(request, AuditEvent.Action.DOWNLOAD_OWN_DATA, target=client,
                         detail={"format": "json"})
    response = JsonResponse(own_data.as_json(data), json_dumps_params={"indent": 2, "ensure_ascii": False})
    stamp = data["exported_at"].strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-data-{request.practice.slug}-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response
