"""Telling the other side of the care relationship that something new happened.

In the portal: unread markers. By e-mail: one message per batch with a link only, never the
content, a name or a score (DESIGN.md: no clinical content in e-mails).
"""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from care.models import CaseloadAssignment, Client, Notification
from portal.tenancy.models import Practice


def recipients_for(*, actor: Membership, client: Client) -> list[Membership]:
    """The client hears from staff; the client's current care team hears from the client."""
    if actor.role == Membership.Role.CLIENT:
        return [
            a.clinician
            for a in CaseloadAssignment.objects.filter(
                client=client, ended_at__isnull=True, clinician__status=Membership.Status.ACTIVE
            ).select_related("clinician")
            if a.clinician_id != actor.pk
        ]
    membership = client.membership
    if membership.status == Membership.Status.ACTIVE and membership.pk != actor.pk:
        return [membership]
    return []


def notify(
    *, practice: Practice, actor: Membership, client: Client, kind: str, area: str = "plan"
) -> list[Notification]:
    recipients = recipients_for(actor=actor, client=client)
    notifications = Notification.objects.bulk_create(
        Notification(
            practice=practice, recipient=r, client=client, kind=kind, area=area, actor=actor
        )
        for r in recipients
    )
    from care.tasks import send_notification_email

    for recipient in recipients:
        send_notification_email.delay_on_commit(practice.pk, recipient.pk)
    return notifications


def wants_email(recipient: Membership) -> bool:
    if recipient.status != Membership.Status.ACTIVE or recipient.user_id is None:
        return False
    if recipient.role == Membership.Role.CLIENT:
        return not Client.objects.filter(
            membership=recipient, preferred_contact=Client.PreferredContact.PORTAL
        ).exists()
    return True


def mark_read(*, recipient: Membership, client: Client, area: str | None = None) -> int:
    unread = Notification.objects.filter(recipient=recipient, client=client, read_at__isnull=True)
    if area is not None:
        unread = unread.filter(area=area)
    return unread.update(read_at=timezone.now())


def portal_link(recipient: Membership, client_ids: set[int]) -> str:
    slug = recipient.practice.slug
    if recipient.role != Membership.Role.CLIENT and len(client_ids) == 1:
        path = reverse("care:client", kwargs={"practice_slug": slug, "client_id": client_ids.pop()})
    else:
        path = reverse("practice_home", kwargs={"practice_slug": slug})
    return settings.SITE_URL + path


def email_unsent(*, recipient_id: int) -> int:
    """E-mail one person about everything new and unread since the last e-mail; idempotent.

    The rows are claimed under a lock (skipping rows another worker holds), e-mailed and
    marked in one transaction, so a redelivered task finds nothing left to send.
    """
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(recipient_id=recipient_id, emailed_at__isnull=True)
            .order_by("id")
        )
        if not pending:
            return 0
        now = timezone.now()
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=now)
        unread = [n for n in pending if n.read_at is None]
        recipient = Membership.objects.select_related("practice", "user").get(pk=recipient_id)
        if not unread or not wants_email(recipient):
            return 0
        context = {
            "practice": recipient.practice,
            "count": len(unread),
            "url": portal_link(recipient, {n.client_id for n in unread}),
        }
        send_mail(
            subject=f"Something new for you at {recipient.practice.name}",
            message=render_to_string("care/email/notification.txt", context),
            from_email=None,
            recipient_list=[recipient.user.email],
        )
        return len(unread)
