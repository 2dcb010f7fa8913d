"""Thin Celery tasks: load by id, enter the practice scope, call a service."""

import smtplib
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from accounts import services
from accounts.models import Invitation
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

# A message older than this with no send recorded is taken as lost and enqueued again.
UNSENT_GRACE = timedelta(minutes=2)


@shared_task(
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=10,
)
def send_invitation(practice_id: int, invitation_id: int) -> bool:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        return services.send_invitation_email(invitation_id=invitation_id)


@shared_task
def sweep_unsent_invitations() -> int:
    """Re-dispatch open invitations whose send message was lost (worker killed, broker reset)."""
    now = timezone.now()
    # Deliberately cross-practice: the beat job fans out to every practice's invitations.
    stuck = Invitation.unscoped.filter(
        sent_at__isnull=True,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
        created_at__lt=now - UNSENT_GRACE,
    ).values_list("practice_id", "pk")[:1000]
    count = 0
    for practice_id, invitation_id in stuck:
        send_invitation.delay(practice_id, invitation_id)
        count += 1
    return count
