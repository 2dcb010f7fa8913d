"""Thin Celery tasks: load by id, enter the practice scope, call a service."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from accounts import services
from accounts.models import Invitation
from portal.mail import SMTP_ERRORS, is_permanent
from portal.rls.db import rls_bypass
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

MAX_SEND_RETRIES = 8
# Longer than the longest retry countdown, so the sweeper never races a pending retry.
UNSENT_GRACE = timedelta(minutes=15)


def retry_countdown(retries: int) -> int:
    return min(30 * 2**retries, 600)


@shared_task(bind=True, max_retries=MAX_SEND_RETRIES)
def send_invitation(self, practice_id: int, invitation_id: int) -> bool:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        try:
            return services.send_invitation_email(invitation_id=invitation_id)
        except SMTP_ERRORS as error:
            if is_permanent(error) or self.request.retries >= self.max_retries:
                services.record_invitation_send_failure(invitation_id=invitation_id)
                return False
            raise self.retry(exc=error, countdown=retry_countdown(self.request.retries))


@shared_task
def sweep_unsent_invitations() -> int:
    """Re-dispatch open invitations whose send message was lost (worker killed, broker reset)."""
    now = timezone.now()
    # Deliberately cross-practice: the beat job fans out to every practice's invitations.
    with rls_bypass():
        stuck = list(
            Invitation.unscoped.filter(
                sent_at__isnull=True,
                send_failed_at__isnull=True,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=now,
                created_at__lt=now - UNSENT_GRACE,
            ).values_list("practice_id", "pk")[:1000]
        )
    count = 0
    for practice_id, invitation_id in stuck:
        send_invitation.delay(practice_id, invitation_id)
        count += 1
    return count
