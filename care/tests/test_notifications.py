"""Notifications: the other side hears about news in the portal and by a link-only e-mail."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Membership
from care.models import Client, Notification
from care.services import notifications
from care.tasks import UNSENT_GRACE, send_notification_email, sweep_unsent_notifications

KIND = Notification.Kind.COMMENT


def notify_as(world, actor, client, django_capture_on_commit_callbacks):
    with world.scope(), django_capture_on_commit_callbacks(execute=True):
        return notifications.notify(practice=world.practice, actor=actor, client=client, kind=KIND)


def test_a_client_notifies_their_whole_current_care_team(world_a, django_capture_on_commit_callbacks):
    shared = world_a.shared_client
    created = notify_as(world_a, shared.membership, shared, django_capture_on_commit_callbacks)

    assert {n.recipient_id for n in created} == {world_a.clinician.pk, world_a.clinician2.pk}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [world_a.clinician.user.email, world_a.clinician2.user.email]
    )


def test_staff_notify_the_client_only(world_a, django_capture_on_commit_callbacks):
    created = notify_as(world_a, world_a.clinician, world_a.client, django_capture_on_commit_callbacks)

    assert [n.recipient_id for n in created] == [world_a.client.membership_id]
    assert [m.to for m in mail.outbox] == [[world_a.client.membership.user.email]]


def test_the_email_has_a_link_and_no_names_or_content(world_a, django_capture_on_commit_callbacks):
    client = world_a.client
    notify_as(world_a, client.membership, client, django_capture_on_commit_callbacks)

    (message,) = mail.outbox
    text = message.subject + message.body
    assert f"http://testserver/p/{world_a.practice.slug}/clients/{client.pk}/" in message.body
    for name in (client.first_name, client.last_name, world_a.clinician.user.last_name):
        assert name not in text


def test_nobody_is_notified_about_their_own_action_or_while_not_active(
    world_a, django_capture_on_commit_callbacks
):
    Membership.unscoped.filter(pk=world_a.client.membership_id).update(
        status=Membership.Status.INVITED
    )
    world_a.client.membership.refresh_from_db()

    assert notify_as(world_a, world_a.clinician, world_a.client, django_capture_on_commit_callbacks) == []
    assert mail.outbox == []


def test_portal_only_clients_get_markers_but_no_email(world_a, django_capture_on_commit_callbacks):
    Client.unscoped.filter(pk=world_a.client.pk).update(
        preferred_contact=Client.PreferredContact.PORTAL
    )
    created = notify_as(world_a, world_a.clinician, world_a.client, django_capture_on_commit_callbacks)

    assert len(created) == 1
    assert mail.outbox == []
    # Handled, so the sweeper does not keep trying.
    assert Notification.unscoped.get(pk=created[0].pk).emailed_at is not None


def test_sending_is_idempotent_and_batches_everything_unsent(world_a):
    client = world_a.client
    with world_a.scope():
        for _ in range(3):
            notifications.notify(
                practice=world_a.practice, actor=client.membership, client=client, kind=KIND
            )
        assert notifications.email_unsent(recipient_id=world_a.clinician.pk) == 3
        assert notifications.email_unsent(recipient_id=world_a.clinician.pk) == 0

    assert len(mail.outbox) == 1
    assert "3 new updates" in mail.outbox[0].body


def test_read_in_the_portal_before_the_email_means_no_email(world_a):
    client = world_a.client
    with world_a.scope():
        notifications.notify(practice=world_a.practice, actor=client.membership, client=client, kind=KIND)
        assert notifications.mark_read(recipient=world_a.clinician, client=client) == 1
        assert notifications.email_unsent(recipient_id=world_a.clinician.pk) == 0
    assert mail.outbox == []


def test_the_sweeper_resends_lost_messages_once(world_a, world_b):
    for world in (world_a, world_b):
        with world.scope():
            notifications.notify(
                practice=world.practice, actor=world.client.membership, client=world.client, kind=KIND
            )
    Notification.unscoped.update(created_at=timezone.now() - UNSENT_GRACE - timedelta(minutes=1))

    assert sweep_unsent_notifications() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [world_a.clinician.user.email, world_b.clinician.user.email]
    )
    assert sweep_unsent_notifications() == 0


def test_the_header_shows_the_unread_count(world_a, as_member):
    client = world_a.client
    with world_a.scope():
        notifications.notify(practice=world_a.practice, actor=client.membership, client=client, kind=KIND)
    page = as_member(world_a.clinician).get(world_a.url())
    assert "1 new" in page.content.decode()
    page = as_member(world_a.clinician2).get(world_a.url())
    assert "1 new" not in page.content.decode()


@pytest.mark.parametrize("role", ["clinician", "client"])
def test_a_task_for_a_deactivated_member_sends_nothing(world_a, role):
    actor, recipient = (
        (world_a.client.membership, world_a.clinician)
        if role == "clinician"
        else (world_a.clinician, world_a.client.membership)
    )
    with world_a.scope():
        notifications.notify(practice=world_a.practice, actor=actor, client=world_a.client, kind=KIND)
    Membership.unscoped.filter(pk=recipient.pk).update(status=Membership.Status.INACTIVE)

    assert send_notification_email.delay(world_a.practice.pk, recipient.pk).get() == 0
    assert mail.outbox == []
