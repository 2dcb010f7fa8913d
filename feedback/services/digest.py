"""The clinicians' weekly digest: how many alerts, check-ins and plan reviews wait for them,
as counts and a link — never a name, a score or a comment (DESIGN.md: no clinical content in
e-mails). One DigestEmail row per clinician and week is the idempotency key: it is claimed
under a row lock, and marked sent in the same transaction as the send.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from care.models import CaseloadAssignment, TreatmentPlan
from feedback.models import Alert, CheckinInvitation, DigestEmail
from portal.tenancy.models import Practice

SENT, NOTHING = "sent", "nothing"


def week_of(practice: Practice, now: datetime) -> date:
    today = now.astimezone(ZoneInfo(practice.time_zone)).date()
    return today - timedelta(days=today.weekday())


def digest_counts(clinician: Membership, *, now: datetime | None = None) -> dict[str, int]:
    """What waits for one clinician across their caseload. Three queries."""
    now = now or timezone.now()
    clients = CaseloadAssignment.objects.filter(
        clinician=clinician, ended_at__isnull=True
    ).values("client_id")
    return {
        "alerts": Alert.objects.filter(client__in=clients, status=Alert.Status.OPEN).count(),
        "checkins": CheckinInvitation.objects.filter(
            client__in=clients, status=CheckinInvitation.Status.OPEN, due_at__lte=now
        ).count(),
        "reviews": TreatmentPlan.objects.filter(
            client__in=clients, review_date__lte=timezone.localdate(now)
        )
        .exclude(status=TreatmentPlan.Status.CLOSED)
        .count(),
    }


def queue_digests(*, practice: Practice, now: datetime | None = None) -> int:
    """Create this week's digest rows for the practice's active clinicians and queue the new
    ones after commit; a second call in the same week queues nothing."""
    from feedback import tasks

    now = now or timezone.now()
    week = week_of(practice, now)
    clinicians = Membership.objects.filter(
        role__in=Membership.STAFF_ROLES, status=Membership.Status.ACTIVE, user__isnull=False
    ).values_list("pk", flat=True)
    queued = 0
    with transaction.atomic():
        for clinician_id in clinicians:
            digest, created = DigestEmail.objects.get_or_create(
                practice=practice, clinician_id=clinician_id, week_start=week
            )
            if created:
                transaction.on_commit(
                    lambda pk=digest.pk: tasks.send_weekly_digest.delay(practice.pk, pk)
                )
                queued += 1
    return queued


def send_digest(*, digest_id: int, now: datetime | None = None) -> str:
    now = now or timezone.now()
    with transaction.atomic():
        digest = DigestEmail.objects.select_for_update().filter(pk=digest_id).first()
        if digest is None or digest.status != DigestEmail.Status.PENDING:
            return NOTHING
        clinician = Membership.objects.select_related("user", "practice").get(pk=digest.clinician_id)
        if clinician.status != Membership.Status.ACTIVE or clinician.user is None:
            digest.status = DigestEmail.Status.FAILED
            digest.save(update_fields=["status"])
            return NOTHING
        practice = clinician.practice
        counts = digest_counts(clinician, now=now)
        context = {
            "practice": practice,
            "counts": counts,
            "url": settings.SITE_URL
            + reverse("practice_home", kwargs={"practice_slug": practice.slug}),
        }
        send_mail(
            subject=f"Your week at {practice.name}",
            message=render_to_string("feedback/email/digest.txt", context),
            from_email=None,
            recipient_list=[clinician.user.email],
        )
        digest.status, digest.sent_at = DigestEmail.Status.SENT, now
        digest.attempts += 1
        digest.save(update_fields=["status", "sent_at", "attempts"])
    return SENT


def record_failure(*, digest_id: int) -> None:
    DigestEmail.objects.filter(pk=digest_id, status=DigestEmail.Status.PENDING).update(
        status=DigestEmail.Status.FAILED
    )
