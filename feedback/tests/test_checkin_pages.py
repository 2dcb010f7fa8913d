"""Check-in pages in the practice: the client's check-ins and preferences, the care team's plan
pages and "check in now", the admin's defaults."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback.models import (
    Alert,
    CheckinEmail,
    CheckinInvitation,
    CheckinPreferences,
    CheckinResponse,
    FeedbackSettings,
    MeasurementPlan,
)
from feedback.services import alerts as alert_services
from feedback.testing import form_answers, make_checkin
from feedback.tests.alerts_support import Answering
from feedback.tests.checkin_support import browser_for, checkin_world, plan_for
from portal.testing import TRANSACTION_QUERIES


@pytest.fixture
def world(world_a):
    world = checkin_world(world_a)
    world.me = browser_for(world.client.membership)
    world.cleo = browser_for(world.clinician)
    world.ada = browser_for(world.admin)
    return world


def body(response) -> str:
    return response.content.decode()


def staff_url(world, suffix="", client=None):
    return world.url(f"checkins/clients/{(client or world.client).pk}/{suffix}")


# --- the client ------------------------------------------------------------------------------


def test_the_client_sees_open_checkins_and_answers_one_in_the_portal(world):
    checkin = make_checkin(practice=world.practice, client=world.client)
    make_checkin(practice=world.practice, client=world.other_client)  # someone else's
    expired = make_checkin(practice=world.practice, client=world.client,
                           expires_in=timedelta(minutes=-1))
    home = body(world.me.get(world.url()))
    assert "A check-in is waiting for you" in home
    page = body(world.me.get(world.url("my/checkins/")))
    assert page.count("Answer now<span") == 1
    assert world.url(f"my/checkins/{checkin.pk}/") in page
    assert world.url(f"my/checkins/{expired.pk}/") not in page

    form = world.me.get(world.url(f"my/checkins/{checkin.pk}/"))
    assert form.status_code == 200 and "Session check-in" in body(form)
    done = world.me.post(world.url(f"my/checkins/{checkin.pk}/"), form_answers())
    assert done.status_code == 200 and "Thank you" in body(done)
    response = CheckinResponse.unscoped.get()
    assert response.channel == "portal" and response.respondent_id == world.client.membership.pk
    again = world.me.get(world.url(f"my/checkins/{checkin.pk}/"))
    assert "You answered this check-in" in body(again)
    assert world.me.post(world.url(f"my/checkins/{checkin.pk}/"), form_answers()).status_code \
        == 200
    assert CheckinResponse.unscoped.count() == 1
    assert "Answered" in body(world.me.get(world.url("my/checkins/")))
    closed = world.me.get(world.url(f"my/checkins/{expired.pk}/"))
    assert "This check-in has closed" in body(closed)


def test_a_client_cannot_open_another_clients_checkin(world):
    theirs = make_checkin(practice=world.practice, client=world.other_client)
    assert world.me.get(world.url(f"my/checkins/{theirs.pk}/")).status_code == 404
    assert world.me.post(world.url(f"my/checkins/{theirs.pk}/"), form_answers()).status_code \
        == 404
    assert not CheckinResponse.unscoped.exists()


def test_the_client_pauses_reminders_and_stops_emails_and_the_clinician_sees_it(world):
    plan_for(world)
    page = world.me.post(world.url("my/checkins/preferences/"),
                         {"reminders_paused": "on", "email_opt_out": "on"})
    assert page.status_code == 302
    prefs = CheckinPreferences.unscoped.get(client=world.client)
    assert prefs.reminders_paused and prefs.email_opt_out
    staff = body(world.cleo.get(staff_url(world)))
    assert "No check-in e-mails" in staff and "Reminders paused" in staff
    world.me.post(world.url("my/checkins/preferences/"), {})
    prefs.refresh_from_db()
    assert not prefs.reminders_paused and not prefs.email_opt_out


# --- the care team ------------------------------------------------------------------------------


def test_a_clinician_adds_a_plan_from_the_practice_defaults(world):
    form = world.cleo.get(staff_url(world, "plans/new/"))
    assert form.status_code == 200
    text = body(form)
    assert 'value="every_session"' in text and "checked" in text
    data = {
        "instrument": world.instrument.pk, "cadence": "weekdays", "every": "1",
        "weekdays": ["1", "4"], "starts_on": timezone.localdate().isoformat(),
        "channel": "email", "reminder_after_hours": "24", "max_reminders": "2",
        "expiry_days": "4",
    }
    page = world.cleo.post(staff_url(world, "plans/new/"), data)
    assert page.status_code == 302 and page["Location"] == staff_url(world)
    plan = MeasurementPlan.unscoped.get()
    assert (plan.cadence, plan.weekdays, plan.created_by_id) == ("weekdays", [1, 4],
                                                                 world.clinician.pk)
    listing = body(world.cleo.get(staff_url(world)))
    assert "Every Tuesday and Friday" in listing


@pytest.mark.parametrize(
    "change, message",
    [
        ({"every": "0"}, "greater than or equal to 1"),
        ({"cadence": "weekdays"}, "Choose at least one day of the week."),
        ({"expiry_days": "1", "reminder_after_hours": "30"}, "after the check-in has closed"),
        ({"instrument": "999999"}, "Select a valid choice"),
    ],
)
def test_a_bad_plan_is_refused_with_a_message(world, change, message):
    data = {
        "instrument": world.instrument.pk, "cadence": "every_session", "every": "1",
        "starts_on": timezone.localdate().isoformat(), "channel": "email",
        "reminder_after_hours": "24", "max_reminders": "2", "expiry_days": "4",
    } | change
    page = world.cleo.post(staff_url(world, "plans/new/"), data)
    assert page.status_code == 200 and message in body(page)
    assert not MeasurementPlan.unscoped.exists()


def test_edit_pause_resume_and_stop_a_plan(world):
    plan = plan_for(world)
    edit = staff_url(world, f"plans/{plan.pk}/")
    assert world.cleo.get(edit).status_code == 200
    data = {"cadence": "every_nth_session", "every": "2", "starts_on": plan.starts_on.isoformat(),
            "channel": "portal", "reminder_after_hours": "24", "max_reminders": "0",
            "expiry_days": "7"}
    assert world.cleo.post(edit, data).status_code == 302
    plan.refresh_from_db()
    assert (plan.cadence, plan.every, plan.channel, plan.expiry_days) == (
        "every_nth_session", 2, "portal", 7)
    status = staff_url(world, f"plans/{plan.pk}/status/")
    for action, expected in (("pause", "paused"), ("resume", "active"), ("stop", "stopped")):
        assert world.cleo.post(status, {"action": action}).status_code == 302
        plan.refresh_from_db()
        assert plan.status == expected
    assert world.cleo.get(edit).status_code == 404  # a stopped plan is history
    page = body(world.cleo.get(staff_url(world)))
    assert "Stopped plans (1)" in page


def test_check_in_now_shows_a_qr_code_and_a_short_link_that_works_once(world):
    page = world.cleo.post(staff_url(world, "now/"), {"instrument": world.instrument.pk})
    invitation = CheckinInvitation.unscoped.get()
    assert page.status_code == 302 and page["Location"] == staff_url(world, f"now/{invitation.pk}/")
    qr = world.cleo.get(page["Location"])
    text = body(qr)
    assert '<svg class="qr-code" role="img"' in text
    short = f"testserver/c/{invitation.short_code}/"
    assert short in text and len(invitation.token) == 10
    assert "no-store" in qr["Cache-Control"]

    # The client opens the short link on their own phone (signed out) and answers.
    from django.test import Client as HttpClient

    phone = HttpClient()
    assert phone.get(f"/c/{invitation.short_code}/").status_code == 200
    assert phone.post(f"/c/{invitation.short_code}/", form_answers()).status_code == 200
    response = CheckinResponse.unscoped.get()
    assert response.channel == "in_session"
    assert "has answered" in body(world.cleo.get(page["Location"]))
    assert "In session" in body(world.cleo.get(staff_url(world)))


def test_the_client_page_shows_history_and_delivery_without_scores_for_other_clients(world):
    plan_for(world)
    answered = make_checkin(practice=world.practice, client=world.client)
    world.me.post(world.url(f"my/checkins/{answered.pk}/"), form_answers())
    failed = make_checkin(practice=world.practice, client=world.client)
    CheckinEmail.unscoped.create(practice=world.practice, invitation=failed, kind="invite",
                                 status="failed", not_before=timezone.now(),
                                 reason="The mail server refused the client's address.")
    text = body(world.cleo.get(staff_url(world)))
    assert "8.1" in text  # 8.125, the answered check-in's alliance index
    assert "Not delivered" in text and "could not be delivered" in text


def test_the_client_page_runs_the_same_queries_for_few_or_many_checkins(world):
    plan_for(world)
    url = staff_url(world)
    world.cleo.get(url)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert world.cleo.get(url).status_code == 200
        return len(captured)

    for _ in range(2):
        make_checkin(practice=world.practice, client=world.client)
    few = queries()
    for n in range(15):
        checkin = make_checkin(practice=world.practice, client=world.client)
        CheckinEmail.unscoped.create(practice=world.practice, invitation=checkin, kind="invite",
                                     status="sent", not_before=timezone.now(),
                                     sent_at=timezone.now())
        if n % 3 == 0:
            world.me.post(world.url(f"my/checkins/{checkin.pk}/"), form_answers())
    assert queries() == few


# What the staff client page and the client's check-ins page cost (the bench measures both):
# counted with the middleware's queries, the same for a client with a short history or a long one.
# Lower these when a change cuts queries; never raise them to make room.
CLIENT_PAGE_QUERIES = {"clinician": 21 + TRANSACTION_QUERIES, "admin": 22 + TRANSACTION_QUERIES}
CHECKINS_PAGE_QUERIES = 11 + TRANSACTION_QUERIES


def test_the_staff_client_pages_run_a_fixed_number_of_queries(world, django_assert_num_queries):
    plan_for(world)
    client_page = world.url(f"clients/{world.client.pk}/")
    pages = [
        (world.cleo, client_page, CLIENT_PAGE_QUERIES["clinician"]),
        (world.ada, client_page, CLIENT_PAGE_QUERIES["admin"]),
        (world.cleo, staff_url(world), CHECKINS_PAGE_QUERIES),
    ]

    def check():
        for http, url, expected in pages:
            http.get(url)  # warm up; reads the agenda news (a page with unread ones marks them)
            with django_assert_num_queries(expected):
                assert http.get(url).status_code == 200

    answering = Answering(world)
    answering.alliance(9)  # a short history
    make_checkin(practice=world.practice, client=world.client)
    check()
    # A long one: answered check-ins (some ruptures, closed and open alerts), PHQ-9s, e-mailed
    # and failed invitations, news for the clinician.
    for n in range(12):
        answering.alliance(9 if n % 3 else 6)
        answering.phq9(12 - n // 2)
        with world.scope():
            alert = Alert.objects.filter(status="open").first()
            if alert is not None and n < 8:
                close = alert_services.dismiss_alert if n % 2 else alert_services.acknowledge_alert
                note = {"reason": "Talked about it."} if n % 2 else {"note": "Ask about it."}
                close(practice=world.practice, actor=world.clinician, alert=alert, **note)
    for n in range(25):
        checkin = make_checkin(practice=world.practice, client=world.client)
        CheckinEmail.unscoped.create(practice=world.practice, invitation=checkin, kind="invite",
                                     status="failed" if n % 5 == 0 else "sent",
                                     not_before=timezone.now(), sent_at=timezone.now(),
                                     failed_at=timezone.now() if n % 5 == 0 else None)
    with world.scope():
        assert Alert.objects.exclude(status__in=Alert.UNRESOLVED).count() >= 2
        assert Alert.objects.filter(status__in=Alert.UNRESOLVED).exists()
    check()


def test_the_staff_panel_on_the_client_page(world):
    plan_for(world)
    text = body(world.cleo.get(world.url(f"clients/{world.client.pk}/")))
    assert "Check in now" in text and "Session check-in, after every attended session" in text


# --- the admin's defaults ---------------------------------------------------------------------


def test_an_admin_edits_the_practice_defaults(world):
    url = world.url("checkins/settings/")
    assert world.ada.get(url).status_code == 200
    assert world.cleo.get(url).status_code == 404
    data = {
        "default_cadence": "every_n_days", "default_every": "14", "default_channel": "portal",
        "reminder_after_hours": "12", "max_reminders": "1", "expiry_days": "3",
        "quiet_hours_start": "20:30", "quiet_hours_end": "07:30",
    }
    assert world.ada.post(url, data).status_code == 302
    row = FeedbackSettings.unscoped.get(practice=world.practice)
    assert (row.default_cadence, row.default_every, row.default_channel) == (
        "every_n_days", 14, "portal")
    assert f"{row.quiet_hours_start:%H:%M}-{row.quiet_hours_end:%H:%M}" == "20:30-07:30"
    bad = world.ada.post(url, data | {"quiet_hours_end": ""})
    assert "Give both the start and the end of quiet hours" in body(bad)
    form = body(world.cleo.get(staff_url(world, "plans/new/")))  # new plans start from them
    assert re.search(r'value="every_n_days"[^>]*checked', form)
    assert re.search(r'name="every" value="14"', form)
