"""Object access for export pages: one 404 for "not yours" and "does not exist"."""

from django.http import Http404

from accounts.models import Membership
from portal.exports.models import ExportJob


def access_export_job(actor: Membership, job_id: int) -> ExportJob:
    """A job of the practice in scope; only its admins see exports (they hold every client)."""
    if actor is None or actor.role != Membership.Role.ADMIN:
        raise Http404
    job = ExportJob.objects.select_related("practice").filter(pk=job_id).first()
    if job is None:
        raise Http404
    return job
