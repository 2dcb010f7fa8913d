"""Thin Celery tasks for care: load by id, enter the practice scope, call a service."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from accounts.tasks import retry_countdown
from care.models import Notification
from care.services import notifications
from portal.mail import SMTP_ERRORS, is_permanent
from portal.rls.db import rls_bypass
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

UNSENT_GRACE = timedelta(minutes=15)


@shared_task(bind=True, max_retries=8)
def send_notification_email(self, practice_id: int, recipient_id: int) -> int:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        try:
            return notifications.email_unsent(recipient_id=recipient_id)
        except SMTP_ERRORS as error:
            if is_permanent(error):
                return 0  # nothing to retry; the portal still shows the unread markers
            raise self.retry(exc=error, countdown=retry_countdown(self.request.retries))


@shared_task
def sweep_unsent_notifications() -> int:
    """Re-dispatch notification e-mails whose message was lost."""
    cutoff = timezone.now() - UNSENT_GRACE
    # Deliberately cross-practice: the beat job covers every practice.
    with rls_bypass():
        pairs = list(
            Notification.unscoped.filter(
                emailed_at__isnull=True, read_at__isnull=True, created_at__lt=cutoff
            )
            .values_list("practice_id", "recipient_id")
            .distinct()[:1000]
        )
    for practice_id, recipient_id in pairs:
        send_notification_email.delay(practice_id, recipient_id)
    return len(pairs)
