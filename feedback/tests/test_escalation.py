"""Unacknowledged safety alerts go to the practice admins after the practice's set time, once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from care.models import Notification
from feedback.models import Alert
from feedback.services import alerts as services
from feedback.tasks import escalate_safety_alerts
from feedback.tests.alerts_support import Answering, with_instruments

pytestmark = pytest.mark.django_db


def _safety_alert(world, hours_ago):
    with_instruments(world)
    Answering(world).phq9(14, item9=2, at=timezone.now() - timedelta(hours=hours_ago))
    with world.scope():
        return Alert.objects.get(kind="safety")


def test_escalates_after_the_set_time_once_to_admins_only(world_a, django_capture_on_commit_callbacks):
    alert = _safety_alert(world_a, hours_ago=23)
    mail.outbox.clear()
    with world_a.scope():
        assert services.escalate_overdue_safety_alerts(practice=world_a.practice) == 0
        later = timezone.now() + timedelta(hours=2)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.escalate_overdue_safety_alerts(practice=world_a.practice, now=later) == 1
        assert services.escalate_overdue_safety_alerts(practice=world_a.practice, now=later) == 0
        alert.refresh_from_db()
        assert alert.escalated_at == later
        escalations = list(Notification.objects.filter(kind="escalation"))
    assert [n.recipient for n in escalations] == [world_a.admin]
    assert [m.to for m in mail.outbox] == [[world_a.admin.user.email]]
    body = mail.outbox[0].subject + mail.outbox[0].body
    assert world_a.client.first_name not in body and world_a.client.last_name not in body


def test_practice_setting_and_acknowledged_alerts(world_a):
    alert = _safety_alert(world_a, hours_ago=5)
    with world_a.scope():
        services.update_alert_settings(
            practice=world_a.practice, actor=world_a.admin, safety_escalate_after_hours=4
        )
        services.acknowledge_alert(
            practice=world_a.practice, actor=world_a.clinician, alert=alert, note="Called today."
        )
        assert services.escalate_overdue_safety_alerts(practice=world_a.practice) == 0
    alert = _safety_alert_again(world_a, hours_ago=5)
    with world_a.scope():
        assert services.escalate_overdue_safety_alerts(practice=world_a.practice) == 1


def _safety_alert_again(world, hours_ago):
    Answering(world).phq9(14, item9=1, at=timezone.now() - timedelta(hours=hours_ago))
    with world.scope():
        return Alert.objects.get(kind="safety", status="open")


def test_beat_job_fans_out_per_practice(world_a, world_b):
    _safety_alert(world_a, hours_ago=30)
    _safety_alert(world_b, hours_ago=1)
    assert escalate_safety_alerts() == 2  # both practices have an open one to look at
    assert Alert.unscoped.filter(escalated_at__isnull=False).count() == 1
    assert escalate_safety_alerts() == 1  # A's is claimed; B's is not yet due
    assert Alert.unscoped.get(practice=world_a.practice).escalated_at is not None
    assert Alert.unscoped.get(practice=world_b.practice).escalated_at is None


def test_escalated_alert_shows_on_the_admin_home(world_a, as_member):
    _safety_alert(world_a, hours_ago=30)
    escalate_safety_alerts()
    page = as_member(world_a.admin).get(world_a.url()).content.decode()
    assert "safety-banner" in page and world_a.client.full_name in page
