"""The weekly digest: counts only, once per clinician and week, retried when SMTP is down."""

import smtplib
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from care.models import TreatmentPlan
from feedback import tasks
from feedback.models import DigestEmail
from feedback.services import digest
from feedback.testing import make_checkin
from feedback.tests.alerts_support import Answering, with_instruments
from portal.testing import make_plan


@pytest.fixture
def busy(world_a):
    """world_a.clinician: one safety and one rupture alert, one check-in waiting, one review due."""
    w = with_instruments(world_a)
    Answering(w, client=w.client).phq9(12, item9=1)
    Answering(w, client=w.shared_client).alliance(7, rupture=True)
    with w.scope():
        make_checkin(practice=w.practice, client=w.client, due_at=timezone.now() - timedelta(hours=1))
        plan = make_plan(practice=w.practice, client=w.shared_client, clinician=w.clinician).plan
        TreatmentPlan.objects.filter(pk=plan.pk).update(review_date=timezone.localdate())
    return w


def test_digest_counts_and_no_clinical_content(busy, django_capture_on_commit_callbacks):
    with busy.scope():
        assert digest.digest_counts(busy.clinician) == {"alerts": 2, "checkins": 1, "reviews": 1}
    with django_capture_on_commit_callbacks(execute=True):
        queued = tasks.queue_weekly_digests()
    assert queued == 3  # the admin and both clinicians
    to_clinician = [m for m in _digest_mails() if m.to == [busy.clinician.user.email]]
    assert len(to_clinician) == 1
    body = to_clinician[0].body
    assert "Alerts to acknowledge: 2" in body and "Check-ins waiting for an answer: 1" in body
    assert "Treatment plan reviews due: 1" in body and "http://testserver/p/alpha/" in body
    for private in (busy.client.first_name, busy.client.last_name, busy.shared_client.last_name,
                    "PHQ", "12", "Sleep better"):
        assert private not in body and private not in to_clinician[0].subject


def test_a_second_run_in_the_same_week_sends_nothing(busy, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.queue_weekly_digests()
    sent = len(_digest_mails())
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.queue_weekly_digests() == 0
    assert sent == 3 and len(_digest_mails()) == sent
    with busy.scope():
        assert set(DigestEmail.objects.values_list("status", flat=True)) == {"sent"}
        # A re-delivered send task for a sent digest does nothing.
        first = DigestEmail.objects.first()
    assert tasks.send_weekly_digest(busy.practice.pk, first.pk) == digest.NOTHING
    assert len(_digest_mails()) == sent


def _digest_mails():
    return [m for m in mail.outbox if m.subject.startswith("Your week at")]


def test_smtp_outage_is_retried_then_sent_once(busy, monkeypatch):
    real_send = digest.send_mail
    down = {"on": True}

    def flaky(*args, **kwargs):
        if down["on"]:
            raise smtplib.SMTPServerDisconnected("down")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(digest, "send_mail", flaky)
    with busy.scope():
        row = DigestEmail.objects.create(practice=busy.practice, clinician=busy.clinician,
                                         week_start=digest.week_of(busy.practice, timezone.now()))
    with pytest.raises(Retry) as retry:
        tasks.send_weekly_digest.apply(args=(busy.practice.pk, row.pk))
    assert isinstance(retry.value.exc, smtplib.SMTPServerDisconnected)
    with busy.scope():
        row.refresh_from_db()
    assert row.status == "pending" and not _digest_mails()
    down["on"] = False  # the retry finds the server back
    assert tasks.send_weekly_digest.apply(args=(busy.practice.pk, row.pk)).get() == "sent"
    assert tasks.send_weekly_digest.apply(args=(busy.practice.pk, row.pk)).get() == "nothing"
    assert len(_digest_mails()) == 1


def test_a_digest_that_keeps_failing_is_recorded(busy, monkeypatch):
    def down(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr(digest, "send_mail", down)
    with busy.scope():
        row = DigestEmail.objects.create(practice=busy.practice, clinician=busy.clinician,
                                         week_start=digest.week_of(busy.practice, timezone.now()))
    result = tasks.send_weekly_digest.apply(
        args=(busy.practice.pk, row.pk), retries=tasks.MAX_SEND_RETRIES
    )
    assert result.get() == "failed"
    with busy.scope():
        row.refresh_from_db()
    assert row.status == "failed"


@pytest.mark.parametrize("code, outcome", [(451, "retry"), (550, "failed")])
def test_a_refused_recipient_is_retried_on_4xx_and_recorded_on_5xx(busy, monkeypatch, code, outcome):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"x@example.test": (code, b"no")})

    monkeypatch.setattr(digest, "send_mail", refuse)
    with busy.scope():
        row = DigestEmail.objects.create(practice=busy.practice, clinician=busy.clinician,
                                         week_start=digest.week_of(busy.practice, timezone.now()))
    if outcome == "retry":
        with pytest.raises(Retry):
            tasks.send_weekly_digest.apply(args=(busy.practice.pk, row.pk))
    else:
        assert tasks.send_weekly_digest.apply(args=(busy.practice.pk, row.pk)).get() == "failed"
    with busy.scope():
        row.refresh_from_db()
    assert row.status == ("pending" if outcome == "retry" else "failed")
