"""Practice check-in defaults, measurement plans and the client's own preferences (services)."""

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from feedback.models import CheckinPreferences, FeedbackSettings, Instrument, MeasurementPlan
from feedback.services import plans as services
from feedback.tests.checkin_support import checkin_world, clock, plan_for  # noqa: F401 (fixture)


@pytest.fixture
def world(world_a):
    return checkin_world(world_a)


SETTINGS = dict(
    default_cadence="every_n_days", default_every=14, default_weekdays=[],
    default_channel="portal", reminder_after_hours=12, max_reminders=1, expiry_days=3,
    quiet_hours_start=time(20, 0), quiet_hours_end=time(9, 0),
)


# --- practice defaults ----------------------------------------------------------------------


def test_reading_settings_never_writes_and_gives_the_defaults(world_b):
    with world_b.scope():
        row = services.feedback_settings(world_b.practice)
    assert row.pk is None and not FeedbackSettings.unscoped.filter(practice=world_b.practice)
    assert (row.default_cadence, row.default_channel) == ("every_session", "email")
    assert (row.reminder_after_hours, row.max_reminders, row.expiry_days) == (24, 2, 4)
    assert (row.quiet_hours_start, row.quiet_hours_end) == (time(21, 0), time(8, 0))


def test_an_admin_saves_the_defaults_once_per_practice(world_b):
    with world_b.scope():
        services.update_feedback_settings(practice=world_b.practice, actor=world_b.admin,
                                          **SETTINGS)
        row = services.update_feedback_settings(
            practice=world_b.practice, actor=world_b.admin, **(SETTINGS | {"expiry_days": 5})
        )
    assert FeedbackSettings.unscoped.filter(practice=world_b.practice).count() == 1
    assert row.expiry_days == 5 and row.updated_by == world_b.admin
    with world_b.scope():
        assert services.plan_defaults(world_b.practice)["expiry_days"] == 5


def test_new_plans_start_from_the_practice_defaults(world):
    with world.scope():
        services.update_feedback_settings(practice=world.practice, actor=world.admin, **SETTINGS)
    plan = plan_for(world)
    assert (plan.cadence, plan.every, plan.channel) == ("every_n_days", 14, "portal")
    assert (plan.reminder_after_hours, plan.max_reminders, plan.expiry_days) == (12, 1, 3)
    london_today = timezone.localdate(timezone.now(), timezone=ZoneInfo("Europe/London"))
    assert plan.starts_on == london_today  # the practice's day, not the server's


@pytest.mark.parametrize(
    "change, field",
    [
        ({"default_every": 0}, "default_every"),
        ({"default_every": 91}, "default_every"),
        ({"default_cadence": "hourly"}, "default_cadence"),
        ({"default_cadence": "weekdays", "default_weekdays": []}, "default_weekdays"),
        ({"default_weekdays": [7]}, "default_weekdays"),
        ({"default_channel": "sms"}, "default_channel"),
        ({"max_reminders": 4}, "max_reminders"),
        ({"expiry_days": 0}, "expiry_days"),
        ({"reminder_after_hours": 72, "expiry_days": 3}, "reminder_after_hours"),
        ({"quiet_hours_end": None}, "quiet_hours_end"),
    ],
)
def test_bad_settings_are_refused_with_a_message_and_nothing_saved(world, change, field):
    with world.scope(), pytest.raises(ValidationError) as error:
        services.update_feedback_settings(
            practice=world.practice, actor=world.admin, **(SETTINGS | change)
        )
    assert field in error.value.message_dict
    row = FeedbackSettings.unscoped.get(practice=world.practice)
    assert row.expiry_days == 4  # unchanged (checkin_world's row)


def test_only_an_admin_changes_the_defaults(world):
    for actor in (world.clinician, world.client.membership):
        with world.scope(), pytest.raises(ValidationError):
            services.update_feedback_settings(practice=world.practice, actor=actor, **SETTINGS)


# --- measurement plans --------------------------------------------------------------------


def test_a_clinician_on_the_care_team_creates_a_plan(world):
    plan = plan_for(world, cadence="every_nth_session", every=3, max_reminders=0)
    assert plan.status == "active" and plan.created_by == world.clinician
    assert (plan.cadence, plan.every, plan.max_reminders) == ("every_nth_session", 3, 0)
    assert plan.cadence_text == "after every 3rd attended session"
    assert plan.counting_from <= timezone.now()


def test_who_may_create_a_plan(world):
    # clinician2 is not on world.client's care team; clients never set up plans.
    for actor in (world.clinician2, world.client.membership):
        with world.scope(), pytest.raises(ValidationError, match="care team"):
            services.create_measurement_plan(
                practice=world.practice, actor=actor, client=world.client,
                instrument=world.instrument,
            )
    with world.scope():
        services.create_measurement_plan(
            practice=world.practice, actor=world.admin, client=world.client,
            instrument=world.instrument,
        )
    assert MeasurementPlan.unscoped.filter(client=world.client).count() == 1


def test_one_open_plan_per_instrument_and_a_new_one_after_stopping(world):
    first = plan_for(world)
    with pytest.raises(ValidationError, match="already has a plan"):
        plan_for(world)
    with world.scope():
        services.set_plan_status(practice=world.practice, actor=world.clinician, plan=first,
                                 action="stop")
    second = plan_for(world, cadence="weekdays", weekdays=[0, 3])
    assert second.cadence_text == "every Monday and Thursday"
    assert MeasurementPlan.unscoped.filter(client=world.client).count() == 2


def test_an_instrument_that_is_off_or_a_discharged_client_gets_no_plan(world):
    with pytest.raises(ValidationError, match="turned off"):
        plan_for(world, instrument=world.phq9)  # PHQ-9 ships off
    world.client.discharged_at = timezone.now()
    world.client.save()
    with pytest.raises(ValidationError, match="time in care has ended"):
        plan_for(world)
    assert not MeasurementPlan.unscoped.exists()


def test_pause_resume_and_stop(world, clock):
    plan = plan_for(world)
    started = plan.counting_from
    actor = {"practice": world.practice, "actor": world.clinician}
    with world.scope():
        plan = services.set_plan_status(**actor, plan=plan, action="pause")
        assert plan.status == "paused"
        clock.advance(days=3)
        plan = services.set_plan_status(**actor, plan=plan, action="resume")
        assert plan.status == "active" and plan.counting_from == clock.now > started
        assert services.set_plan_status(**actor, plan=plan, action="resume").status == "active"
        services.set_plan_status(**actor, plan=plan, action="stop")
        with pytest.raises(ValidationError, match="stopped"):
            services.set_plan_status(**actor, plan=plan, action="resume")
        with pytest.raises(ValidationError, match="stopped"):
            services.update_measurement_plan(**actor, plan=plan, expiry_days=2)
        with pytest.raises(ValidationError):
            services.set_plan_status(**actor, plan=plan, action="delete")


def test_updating_a_plan_keeps_what_is_not_given(world):
    plan = plan_for(world, cadence="every_n_days", every=7)
    with world.scope():
        plan = services.update_measurement_plan(
            practice=world.practice, actor=world.clinician, plan=plan, expiry_days=2,
            reminder_after_hours=6,
        )
        with pytest.raises(ValidationError) as error:
            services.update_measurement_plan(
                practice=world.practice, actor=world.clinician, plan=plan, every=0
            )
    assert error.value.message_dict.keys() == {"every"}
    plan.refresh_from_db()
    assert (plan.cadence, plan.every, plan.expiry_days, plan.reminder_after_hours) == (
        "every_n_days", 7, 2, 6
    )


def test_ensure_measurement_plan_is_idempotent(world):
    with world.scope():
        first = services.ensure_measurement_plan(
            practice=world.practice, client=world.client, cadence="every_n_days", every=7
        )
        again = services.ensure_measurement_plan(
            practice=world.practice, client=world.client, cadence="every_session"
        )
        phq9 = services.ensure_measurement_plan(
            practice=world.practice, client=world.client, instrument_key="phq9",
            enable_instrument=True, cadence="every_n_days", every=14,
        )
    assert first.pk == again.pk and again.cadence == "every_n_days"
    assert phq9.instrument.key == "phq9"
    assert Instrument.unscoped.get(pk=world.phq9.pk).is_enabled


# --- the client's preferences ---------------------------------------------------------------


def test_the_client_and_only_the_client_sets_their_preferences(world):
    with world.scope():
        assert services.checkin_preferences(world.client).pk is None
        prefs = services.update_checkin_preferences(
            practice=world.practice, actor=world.client.membership, client=world.client,
            reminders_paused=True, email_opt_out=False,
        )
        for actor in (world.clinician, world.admin, world.other_client.membership):
            with pytest.raises(ValidationError):
                services.update_checkin_preferences(
                    practice=world.practice, actor=actor, client=world.client,
                    reminders_paused=False, email_opt_out=True,
                )
    assert prefs.reminders_paused and not prefs.email_opt_out
    assert CheckinPreferences.unscoped.get(client=world.client).reminders_paused
    assert CheckinPreferences.unscoped.count() == 1


def test_plan_rows_belong_to_their_practice(world, world_b):
    plan = plan_for(world)
    assert plan.practice_id == world.practice.pk
    with world_b.scope():
        assert not MeasurementPlan.objects.filter(pk=plan.pk).exists()
    assert timedelta(0) <= timezone.now() - plan.created_at < timedelta(minutes=1)


def test_a_seed_switches_quiet_hours_off_and_counts_recent_sessions(world_b):
    """What the demo seed does: no quiet hours, and a plan that counts the last days' sessions."""
    from feedback.services.checkins import create_due_invitations
    from feedback.tests.checkin_support import attended_session

    world = checkin_world(world_b, names=("Bo", "Brightwater"))
    with world.scope():
        row = services.update_feedback_settings(
            practice=world.practice, actor=None, quiet_hours_start=time(22, 0),
            quiet_hours_end=time(7, 0),
        )
        assert (row.default_cadence, row.expiry_days) == ("every_session", 4)  # kept
        row = services.update_feedback_settings(
            practice=world.practice, actor=None, quiet_hours_start=None, quiet_hours_end=None
        )
        assert not row.has_quiet_hours
    session = attended_session(world, ago=timedelta(days=2))
    with world.scope():
        services.ensure_measurement_plan(
            practice=world.practice, client=world.client,
            count_from=timezone.now() - timedelta(days=3),
        )
        (invitation,) = create_due_invitations(practice=world.practice)
    assert invitation.session_id == session.pk
