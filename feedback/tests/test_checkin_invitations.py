"""Due invitations (one per occurrence), sending (once, quiet hours, retries, failures),
reminders, expiry and the sweeper. Celery runs eagerly here; test_checkin_worker.py runs a real
worker."""

import smtplib
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from care.models import Client
from feedback import tasks
from feedback.models import (
    CheckinEmail,
    CheckinInvitation,
    CheckinPreferences,
    FeedbackSettings,
    MeasurementPlan,
)
from feedback.services import checkins as services
from feedback.services import emails as email_services
from feedback.services.plans import set_plan_status
from feedback.testing import SESSION_CHECKIN_ANSWERS
from feedback.tests.checkin_support import (  # noqa: F401 (fixtures)
    LOCMEM,
    RefusingBackend,
    attended_session,
    browser_for,
    checkin_world,
    clock,
    invitations_of,
    plan_for,
    plans_began,
    smtp_down,
    token_in,
)
from portal.testing import TherapySessionFactory

LONDON = ZoneInfo("Europe/London")  # the worlds' practice time zone


@pytest.fixture
def world(world_a):
    return checkin_world(world_a)


def run_due(world, now=None, *, commit_hooks):
    """The per-practice job, with its after-commit sends run (eagerly)."""
    with commit_hooks(execute=True), world.scope():
        return services.create_due_invitations(practice=world.practice, now=now)


def emails_of(invitation, **filters):
    return list(CheckinEmail.unscoped.filter(invitation=invitation, **filters).order_by("pk"))


@pytest.fixture
def hooks(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


# --- one invitation per occurrence ------------------------------------------------------------


def test_an_attended_session_gets_one_invitation_and_one_email(world, clock, hooks):
    plan_for(world)
    session = attended_session(world, ago=timedelta(minutes=5), minutes=60)  # still running
    assert run_due(world, commit_hooks=hooks) == []
    clock.advance(hours=1)  # now it has ended

    (invitation,) = run_due(world, commit_hooks=hooks)
    assert invitation.occurrence_key == f"session:{session.pk}"
    assert invitation.session_id == session.pk and invitation.clinician_id == world.clinician.pk
    assert invitation.channel == "email" and invitation.status == "open"
    assert invitation.expires_at == session.starts_at + timedelta(minutes=60, days=4)
    assert invitation.instrument_version_id == world.version.pk
    (email,) = emails_of(invitation)
    assert (email.kind, email.status) == ("invite", "sent")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [world.client.membership.email]

    # Again, and again from the beat job: nothing new.
    assert run_due(world, commit_hooks=hooks) == []
    with hooks(execute=True):
        tasks.dispatch_due_checkins()
    assert len(invitations_of(world)) == 1 and len(mail.outbox) == 1


def test_the_email_carries_no_clinical_content(world, hooks):
    world.phq9.is_enabled = True
    world.phq9.save()
    plan_for(world, instrument=world.phq9, cadence="every_n_days", every=14)
    (invitation,) = run_due(world, commit_hooks=hooks)
    (message,) = mail.outbox
    text = message.subject + message.body
    assert world.practice.name in message.subject
    assert f"http://testserver/c/{invitation.token}/" in message.body
    # A date-based check-in closes at midnight, in the practice's time zone: said in words.
    last_day = timezone.localtime(invitation.expires_at, timezone=LONDON) - timedelta(minutes=1)
    assert f"until the end of {last_day:%A} {last_day.day} {last_day:%B} (Europe/London)" \
        in message.body
    for secret in ("PHQ", "depress", "Kim", "Solo", "Cleo", "Carefield", "score"):
        assert secret.lower() not in text.lower(), secret
    assert CheckinInvitation.hash_token(token_in(message)) == invitation.token_hash
    row = CheckinInvitation.unscoped.values_list().get(pk=invitation.pk)
    assert invitation.token not in str(row)  # only its hash is stored


def test_sessions_before_the_plan_or_not_attended_do_not_count(world, clock, hooks):
    attended_session(world, ago=timedelta(days=1))  # before the plan
    plan_for(world)
    clock.advance(days=1)
    for status in ("no_show", "cancelled", "scheduled"):
        TherapySessionFactory(practice=world.practice, client=world.client,
                              clinician=world.clinician, status=status,
                              starts_at=clock.now - timedelta(hours=3))
    assert run_due(world, commit_hooks=hooks) == []
    counted = attended_session(world, ago=timedelta(hours=3))
    (invitation,) = run_due(world, commit_hooks=hooks)
    assert invitation.session_id == counted.pk


def test_every_nth_session_and_the_clinician_of_that_session(world, clock, hooks):
    # The beat job reads only plans whose client attended a session lately; such a plan's
    # count still includes the sessions long before (here three weeks, beyond any expiry).
    plan_for(world, cadence="every_nth_session", every=2)
    clock.advance(days=1)
    first = attended_session(world, ago=timedelta(hours=12))
    assert run_due(world, commit_hooks=hooks) == []
    clock.advance(days=21)
    assert run_due(world, commit_hooks=hooks) == []  # no session lately: nothing read
    second = attended_session(world, ago=timedelta(hours=12), clinician=world.clinician2)
    (invitation,) = run_due(world, commit_hooks=hooks)
    assert invitation.session_id == second.pk != first.pk
    assert invitation.clinician_id == world.clinician2.pk


def test_every_n_days_starts_on_the_first_day(world, clock, hooks):
    plan_for(world, cadence="every_n_days", every=7, channel="portal")
    (invitation,) = run_due(world, commit_hooks=hooks)
    today = timezone.localdate(timezone.now(), timezone=LONDON)
    assert invitation.occurrence_key == f"date:{today.isoformat()}"
    assert invitation.channel == "portal" and invitation.clinician_id == world.clinician.pk
    assert emails_of(invitation) == [] and mail.outbox == []  # portal only
    clock.advance(days=3)
    assert run_due(world, commit_hooks=hooks) == []
    clock.advance(days=4)
    assert len(run_due(world, commit_hooks=hooks)) == 1


def test_paused_plans_discharged_clients_and_stopped_plans_ask_nothing(world, clock, hooks):
    plan = plan_for(world, cadence="every_n_days", every=1)
    with world.scope():
        set_plan_status(practice=world.practice, actor=world.clinician, plan=plan, action="pause")
    assert run_due(world, commit_hooks=hooks) == []
    clock.advance(days=1)
    with world.scope():
        set_plan_status(practice=world.practice, actor=world.clinician, plan=plan, action="resume")
    assert len(run_due(world, commit_hooks=hooks)) == 1
    clock.advance(days=1)
    Client.unscoped.filter(pk=world.client.pk).update(discharged_at=timezone.now())
    assert run_due(world, commit_hooks=hooks) == []


def test_a_client_who_opted_out_or_prefers_the_portal_is_not_emailed(world, hooks):
    CheckinPreferences.unscoped.create(practice=world.practice, client=world.client,
                                       email_opt_out=True)
    plan_for(world, cadence="every_n_days", every=1)
    plan_for(world, client=world.shared_client, cadence="every_n_days", every=1)
    Client.unscoped.filter(pk=world.shared_client.pk).update(preferred_contact="portal")
    invitations = run_due(world, commit_hooks=hooks)
    assert {i.channel for i in invitations} == {"portal"} and len(invitations) == 2
    assert mail.outbox == [] and not CheckinEmail.unscoped.exists()


def test_the_beat_job_fans_out_per_practice(world, world_b, hooks):
    checkin_world(world_b, names=("Bo", "Bravo"))
    plan_for(world, cadence="every_n_days", every=7)
    plan_for(world_b, cadence="every_n_days", every=7)
    with hooks(execute=True):
        assert tasks.dispatch_due_checkins() == 2
    for w in (world, world_b):
        (invitation,) = invitations_of(w)
        assert invitation.client.practice_id == invitation.practice_id == w.practice.pk
    assert len(mail.outbox) == 2


# --- quiet hours ------------------------------------------------------------------------------


def test_no_email_in_quiet_hours_it_goes_out_after(world, clock, hooks):
    local = timezone.localtime(clock.now, timezone=LONDON)
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    FeedbackSettings.unscoped.filter(practice=world.practice).update(
        quiet_hours_start=start, quiet_hours_end=end
    )
    plan_for(world, cadence="every_n_days", every=7)
    (invitation,) = run_due(world, commit_hooks=hooks)
    (email,) = emails_of(invitation)
    assert email.status == "pending" and email.dispatched_at is None
    assert email.not_before > clock.now and mail.outbox == []

    with hooks(execute=True):
        assert tasks.sweep_checkin_emails() == 0  # still quiet
    # A send task that arrives in quiet hours anyway (a retry, a sweep) waits too.
    with world.scope():
        assert email_services.send_checkin_email(email_id=email.pk) == email_services.WAITING
    assert mail.outbox == []

    clock.set(email.not_before + timedelta(minutes=1))
    with hooks(execute=True):
        assert tasks.sweep_checkin_emails() == 1
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == "sent" and email.sent_at >= email.not_before


# --- sending: once, retries, failures, the sweeper ----------------------------------------------


def test_sending_twice_sends_once(world, hooks):
    plan_for(world, cadence="every_n_days", every=7)
    (invitation,) = run_due(world, commit_hooks=hooks)
    (email,) = emails_of(invitation)
    for _ in range(3):
        assert tasks.send_checkin_email.delay(world.practice.pk, email.pk).get() == "nothing"
    assert len(mail.outbox) == 1


def test_smtp_down_is_retried_and_the_email_goes_out_once_it_is_back(
    world, hooks, smtp_down, settings, clock
):
    plan_for(world, cadence="every_n_days", every=7)
    with pytest.raises(Retry) as retry:
        run_due(world, commit_hooks=hooks)
    assert isinstance(retry.value.exc, smtplib.SMTPServerDisconnected)
    assert retry.value.when == tasks.retry_countdown(0) == 30 and tasks.retry_countdown(9) == 600
    (invitation,) = invitations_of(world)
    (email,) = emails_of(invitation)
    assert (email.status, email.attempts) == ("pending", 1) and email.last_attempt_at

    # While the retry waits, the sweeper leaves it alone; when the retry is lost, it takes over.
    with hooks(execute=True):
        assert tasks.sweep_checkin_emails() == 0
    settings.MAILERS = LOCMEM
    clock.advance(minutes=16)
    with hooks(execute=True):
        assert tasks.sweep_checkin_emails() == 1
        assert tasks.sweep_checkin_emails() == 0
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 2)


def test_a_refused_address_is_recorded_and_shown_to_the_clinician(world, hooks, settings):
    settings.MAILERS = {"default": {"BACKEND": f"{RefusingBackend.__module__}.RefusingBackend"}}
    plan_for(world, cadence="every_n_days", every=7)
    run_due(world, commit_hooks=hooks)
    (invitation,) = invitations_of(world)
    (email,) = emails_of(invitation)
    assert email.status == "failed" and "refused" in email.reason and email.failed_at
    with hooks(execute=True):
        assert tasks.sweep_checkin_emails() == 0
    http = browser_for(world.clinician)
    page = http.get(world.url(f"checkins/clients/{world.client.pk}/")).content.decode()
    assert "could not be delivered" in page and "refused the client&#x27;s address" in page
    detail = http.get(world.url(f"clients/{world.client.pk}/")).content.decode()
    assert "could not be delivered" in detail


def test_a_send_that_keeps_failing_is_recorded_after_the_last_retry(world, hooks, smtp_down):
    plan_for(world, cadence="every_n_days", every=7)
    with pytest.raises(Retry):
        run_due(world, commit_hooks=hooks)
    (email,) = CheckinEmail.unscoped.all()
    result = tasks.send_checkin_email.apply(
        args=(world.practice.pk, email.pk), retries=tasks.MAX_SEND_RETRIES
    )
    assert result.get() == "failed"
    email.refresh_from_db()
    assert email.status == "failed" and email.reason == tasks.GAVE_UP


def test_the_sweeper_redispatches_a_lost_message_only(world, clock, hooks):
    plan_for(world, cadence="every_n_days", every=7)
    with world.scope():  # created and dispatched, but the message never arrives
        (invitation,) = services.create_due_invitations(practice=world.practice)
    (email,) = emails_of(invitation)
    assert email.dispatched_at is not None
    with hooks(execute=True):
        assert tasks.sweep_checkin_emails() == 0  # it may still be on its way
    clock.advance(minutes=16)
    with hooks(execute=True):
        assert tasks.sweep_checkin_emails() == 1
    assert len(mail.outbox) == 1


# --- reminders ------------------------------------------------------------------------------


def test_reminders_after_n_hours_at_most_m(world, clock, hooks):
    plan_for(world, cadence="every_n_days", every=7, reminder_after_hours=24, max_reminders=2)
    (invitation,) = run_due(world, commit_hooks=hooks)
    start = clock.now

    def remind():
        with hooks(execute=True), world.scope():
            return services.queue_due_reminders(practice=world.practice)

    clock.set(start + timedelta(hours=23))
    assert remind() == []
    clock.set(start + timedelta(hours=24, minutes=1))
    (first,) = remind()
    assert first.kind == "reminder-1" and remind() == []
    clock.set(start + timedelta(hours=48, minutes=1))
    (second,) = remind()
    assert second.kind == "reminder-2"
    clock.set(start + timedelta(hours=80))
    assert remind() == []  # at most 2
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        f"A short check-in from {world.practice.name}", "Reminder", "Reminder"]
    assert token_in(mail.outbox[2]) == invitation.token  # the same single-use link
    assert {e.status for e in emails_of(invitation)} == {"sent"}


def test_no_reminder_once_answered_paused_or_opted_out(world, world_b, clock, hooks):
    plan = plan_for(world, cadence="every_n_days", every=7, max_reminders=3,
                    reminder_after_hours=1)
    (invitation,) = run_due(world, commit_hooks=hooks)

    def remind():
        with hooks(execute=True):
            tasks.queue_checkin_reminders()
        return CheckinEmail.unscoped.filter(invitation=invitation).count()

    prefs = CheckinPreferences.unscoped.create(practice=world.practice, client=world.client,
                                               reminders_paused=True)
    clock.advance(hours=2)
    assert remind() == 1
    prefs.reminders_paused = False
    prefs.save()
    with world.scope():
        set_plan_status(practice=world.practice, actor=world.clinician, plan=plan, action="pause")
    assert remind() == 1
    with world.scope():
        set_plan_status(practice=world.practice, actor=world.clinician, plan=plan, action="resume")
    assert remind() == 2
    # A reminder queued, then the client pauses reminders before it goes out: it is skipped.
    (pending,) = CheckinEmail.unscoped.filter(kind="reminder-1")
    CheckinEmail.unscoped.filter(pk=pending.pk).update(status="pending", sent_at=None)
    prefs.reminders_paused = True
    prefs.save()
    with world.scope():
        assert email_services.send_checkin_email(email_id=pending.pk) == "skipped"
    pending.refresh_from_db()
    assert pending.reason == "The client paused reminders."
    prefs.reminders_paused = False
    prefs.save()
    with world.scope():
        services.complete_checkin(
            practice=world.practice, invitation=invitation, via="link",
            answers=SESSION_CHECKIN_ANSWERS,
        )
    clock.advance(hours=5)
    assert remind() == 2


# --- expiry ----------------------------------------------------------------------------------


def test_expiry_closes_the_invitation_and_skips_waiting_emails(world, clock, hooks):
    FeedbackSettings.unscoped.filter(practice=world.practice).update(
        quiet_hours_start=time(0, 0), quiet_hours_end=time(23, 59)
    )
    plan_for(world, cadence="every_n_days", every=7, expiry_days=2)
    (invitation,) = run_due(world, commit_hooks=hooks)
    clock.set(invitation.expires_at - timedelta(minutes=1))
    assert tasks.expire_checkins() == 0
    clock.set(invitation.expires_at)
    assert tasks.expire_checkins() == 1 and tasks.expire_checkins() == 0
    invitation.refresh_from_db()
    assert invitation.status == "expired" and invitation.closed_at == clock.now
    (email,) = emails_of(invitation)
    assert (email.status, email.reason) == ("skipped", "The check-in expired.")


def test_a_late_occurrence_that_would_already_have_expired_is_not_created(world, clock, hooks):
    plan_for(world, expiry_days=1, reminder_after_hours=6)
    plans_began(world, clock.now - timedelta(days=10))
    attended_session(world, ago=timedelta(days=3))  # marked attended late: its check-in is past
    assert run_due(world, commit_hooks=hooks) == []
    recent = attended_session(world, ago=timedelta(hours=12))
    (invitation,) = run_due(world, commit_hooks=hooks)
    assert invitation.session_id == recent.pk


def test_a_session_marked_attended_late_is_asked_about_while_it_would_be_open(
    world, clock, hooks
):
    plan_for(world, expiry_days=14)
    plans_began(world, clock.now - timedelta(days=30))
    late = attended_session(world, ago=timedelta(days=12))  # 12 days on, still within 14
    (invitation,) = run_due(world, commit_hooks=hooks)
    assert invitation.session_id == late.pk
    assert invitation.expires_at > clock.now


# --- in session -----------------------------------------------------------------------------


def test_check_in_now_just_after_midnight_answers_for_the_evening_session(world, clock):
    london = ZoneInfo(world.practice.time_zone)
    clock.set(datetime(2026, 11, 27, 0, 20, tzinfo=london))
    evening = attended_session(world, ago=timedelta(hours=1, minutes=20))  # 23:00 the day before
    with world.scope():
        now = services.start_in_session_checkin(
            practice=world.practice, actor=world.clinician, client=world.client,
            instrument=world.instrument,
        )
    assert now.session_id == evening.pk

    clock.advance(days=2)  # two days on, that session is long past
    with world.scope():
        later = services.start_in_session_checkin(
            practice=world.practice, actor=world.clinician, client=world.client,
            instrument=world.instrument,
        )
    assert later.session_id is None


def test_check_in_now_replaces_the_emailed_one_for_the_same_session(world, hooks):
    plan_for(world)
    session = attended_session(world, ago=timedelta(hours=2))
    # A plan created earlier than the session: move the plan's start back.
    plans_began(world, timezone.now() - timedelta(days=1))
    (emailed,) = run_due(world, commit_hooks=hooks)
    with world.scope():
        now = services.start_in_session_checkin(
            practice=world.practice, actor=world.clinician, client=world.client,
            instrument=world.instrument,
        )
    assert now.channel == "in_session" and now.session_id == session.pk
    assert len(now.token) == 10 and now.expires_at - now.due_at == services.IN_SESSION_TTL
    emailed.refresh_from_db()
    assert emailed.status == "cancelled"
    # The session is answered in session: the beat job does not ask about it again.
    CheckinInvitation.unscoped.filter(pk=emailed.pk).delete()
    assert run_due(world, commit_hooks=hooks) == []


def plans_read(world, *, commit_hooks) -> int:
    """How many queries a run of the minute job makes after reading the plans (0: no plan
    was a candidate, so nothing else was read)."""
    with CaptureQueriesContext(connection) as run:
        created = run_due(world, commit_hooks=commit_hooks)
    assert created == []
    reads = [q["sql"] for q in run.captured_queries if q["sql"].startswith("SELECT")]
    assert "feedback_measurementplan" in reads[0]
    return len(reads) - 1


def test_the_minute_job_reads_a_plan_only_while_a_session_of_it_is_not_checked_in_on(
    world, hooks
):
    plan_for(world)
    plans_began(world, timezone.now() - timedelta(days=1))
    first = attended_session(world, ago=timedelta(hours=3))
    (emailed,) = run_due(world, commit_hooks=hooks)
    assert emailed.session_id == first.pk
    # Every minute after: the plan is not even read (its one session has its check-in).
    assert plans_read(world, commit_hooks=hooks) == 0

    # A new session answered in session (no plan, the same instrument): not read either ...
    second = attended_session(world, ago=timedelta(hours=1))
    with world.scope():
        in_session = services.start_in_session_checkin(
            practice=world.practice, actor=world.clinician, client=world.client,
            instrument=world.instrument,
        )
    assert in_session.session_id == second.pk
    assert plans_read(world, commit_hooks=hooks) == 0
    # ... until that check-in is cancelled: then the session is the plan's to ask about.
    CheckinInvitation.unscoped.filter(pk=in_session.pk).update(status="cancelled")
    (late,) = run_due(world, commit_hooks=hooks)
    assert late.session_id == second.pk and late.plan_id == emailed.plan_id


def test_an_instrument_turned_off_is_asked_of_nobody(world, hooks):
    plan_for(world, cadence="every_n_days", every=7)
    world.instrument.is_enabled = False
    world.instrument.save()
    assert run_due(world, commit_hooks=hooks) == []


def test_no_reminder_once_the_plan_stops_using_email(world, clock, hooks):
    plan = plan_for(world, cadence="every_n_days", every=7, reminder_after_hours=1)
    (invitation,) = run_due(world, commit_hooks=hooks)
    MeasurementPlan.unscoped.filter(pk=plan.pk).update(channel="portal")
    clock.advance(hours=2)
    with hooks(execute=True), world.scope():
        assert services.queue_due_reminders(practice=world.practice) == []
    assert len(mail.outbox) == 1
