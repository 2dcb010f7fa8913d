"""Therapy sessions: booking, recording what happened, the practice's time zone, who may do what,
and constant query counts on the pages that list sessions."""

import datetime as dt
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from care.models import AgendaItem, TherapySession
from care.services import sessions as services
from care.tests.sessions_support import (
    body,
    count_queries,
    named_world,
    session_of,
    staff_url,
)
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice
from portal.testing import AgendaItemFactory, CareRequestFactory, TherapySessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(world_a):
    return named_world(world_a)


def in_days(days: int) -> dt.date:
    return timezone.localdate() + timedelta(days=days)


def session_data(**overrides) -> dict:
    return {
        "date": in_days(10).isoformat(),
        "time": "18:00",
        "duration_minutes": "50",
        "modality": "video",
        "status": "scheduled",
        **overrides,
    }


def sessions_of(client) -> list[TherapySession]:
    return list(TherapySession.unscoped.filter(client=client).order_by("starts_at"))


# --- booking -------------------------------------------------------------------------------------


def test_clinician_books_a_session_and_is_its_clinician(world):
    response = world.cleo.post(
        staff_url(world, world.client, "sessions/new/"), session_data(), follow=True
    )
    assert response.status_code == 200
    (session,) = sessions_of(world.client)
    assert session.clinician == world.clinician
    assert session.created_by == world.clinician
    assert (session.duration_minutes, session.modality, session.status) == (
        50,
        "video",
        "scheduled",
    )
    assert "is saved" in body(response)


@pytest.mark.parametrize(
    "month, utc_day_shift, utc_hour",
    [(1, 1, 0), (7, 0, 23)],  # Chicago is UTC-6 in winter, UTC-5 in summer
    ids=["winter", "summer"],
)
def test_a_time_is_entered_and_shown_in_the_practice_time_zone(
    world, month, utc_day_shift, utc_hour
):
    Practice.objects.filter(pk=world.practice.pk).update(time_zone="America/Chicago")
    day = dt.date(timezone.now().year + 1, month, 15)
    world.cleo.post(
        staff_url(world, world.client, "sessions/new/"),
        session_data(date=day.isoformat(), time="18:00"),
    )
    (session,) = sessions_of(world.client)
    assert session.starts_at == dt.datetime(
        day.year, month, 15, 18, 0, tzinfo=ZoneInfo("America/Chicago")
    )
    in_utc = session.starts_at.astimezone(dt.UTC)
    assert (in_utc.day, in_utc.hour, in_utc.minute) == (15 + utc_day_shift, utc_hour, 0)

    staff_page = body(world.cleo.get(staff_url(world, world.client, "sessions/")))
    assert f"15 {day.strftime('%b')} {day.year}, 18:00" in staff_page
    client_page = body(world.me.get(world.url("my/sessions/")))
    assert "15 " in client_page and ", 18:00" in client_page
    assert f"{utc_hour:02d}:00" not in client_page
    edit_page = body(world.cleo.get(staff_url(world, world.client, f"sessions/{session.pk}/")))
    assert 'value="18:00"' in edit_page and f'value="{day.isoformat()}"' in edit_page


def test_a_time_the_clocks_skip_is_refused(world):
    Practice.objects.filter(pk=world.practice.pk).update(time_zone="America/Chicago")
    year = timezone.now().year + 1
    # Second Sunday of March: 02:00 becomes 03:00 in Chicago.
    march = dt.date(year, 3, 1)
    spring_forward = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
    response = world.cleo.post(
        staff_url(world, world.client, "sessions/new/"),
        session_data(date=spring_forward.isoformat(), time="02:30"),
    )
    assert response.status_code == 400
    assert "the clocks change" in body(response)
    assert sessions_of(world.client) == []


def test_admin_chooses_a_clinician_from_the_care_team(world):
    url = staff_url(world, world.shared_client, "sessions/new/")
    world.ada.post(url, session_data(clinician=world.clinician2.pk))
    (session,) = sessions_of(world.shared_client)
    assert session.clinician == world.clinician2
    assert session.created_by == world.admin

    # Dev is not on Kim's care team: refused, nothing stored.
    response = world.ada.post(
        staff_url(world, world.client, "sessions/new/"), session_data(clinician=world.clinician2.pk)
    )
    assert response.status_code == 400
    assert "care team" in body(response)
    assert sessions_of(world.client) == []


def test_a_clinician_cannot_book_for_a_colleague(world):
    # The clinician field is for admins only; a clinician's session is always their own.
    world.cleo.post(
        staff_url(world, world.shared_client, "sessions/new/"),
        session_data(clinician=world.clinician2.pk),
    )
    (session,) = sessions_of(world.shared_client)
    assert session.clinician == world.clinician


def test_a_double_submit_books_once(world):
    url = staff_url(world, world.client, "sessions/new/")
    world.cleo.post(url, session_data())
    world.cleo.post(url, session_data())
    assert len(sessions_of(world.client)) == 1


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"duration_minutes": "0"}, "at least 5 minutes"),
        ({"duration_minutes": "10000"}, "at most 480 minutes"),
        ({"duration_minutes": "fifty"}, "whole minutes"),
        ({"date": ""}, "Enter the date of the session."),
        ({"date": "31/31/2026"}, "year-month-day"),
        ({"time": ""}, "Enter the time the session starts."),
        ({"status": "teleported"}, "Choose a status from the list."),
        ({"modality": "carrier pigeon"}, "Choose in person or video."),
        ({"status": "attended"}, "once it has started"),  # the date is in the future
    ],
)
def test_bad_session_input_is_refused_with_a_message_and_kept(world, overrides, message):
    response = world.cleo.post(
        staff_url(world, world.client, "sessions/new/"),
        session_data(**{"time": "17:45", **overrides}),
    )
    assert response.status_code == 400
    page = body(response)
    assert message in page
    assert sessions_of(world.client) == []
    if "time" not in overrides:
        assert 'value="17:45"' in page  # what was typed is still there


def test_a_past_session_can_be_recorded_as_attended(world):
    world.cleo.post(
        staff_url(world, world.client, "sessions/new/"),
        session_data(date=in_days(-3).isoformat(), status="attended"),
    )
    (session,) = sessions_of(world.client)
    assert session.status == "attended"


def test_a_discharged_client_gets_no_new_sessions(world):
    type(world.client).unscoped.filter(pk=world.client.pk).update(discharged_at=timezone.now())
    response = world.ada.post(
        staff_url(world, world.client, "sessions/new/"), session_data(clinician=world.clinician.pk)
    )
    assert response.status_code == 400
    assert "so nothing new can be added" in body(response)
    assert sessions_of(world.client) == []


# --- recording what happened --------------------------------------------------------------------


def test_clinician_marks_a_session_attended(world):
    session = session_of(world, days=-1)
    response = world.cleo.post(
        staff_url(world, world.client, f"sessions/{session.pk}/status/"),
        {"status": "attended"},
        follow=True,
    )
    session.refresh_from_db()
    assert session.status == "attended"
    assert "marked attended" in body(response)


def test_a_future_session_cannot_be_marked_attended(world):
    session = session_of(world, days=2)
    response = world.cleo.post(
        staff_url(world, world.client, f"sessions/{session.pk}/status/"),
        {"status": "attended"},
        follow=True,
    )
    session.refresh_from_db()
    assert session.status == "scheduled"
    assert "once it has started" in body(response)


def test_an_unknown_status_changes_nothing(world):
    session = session_of(world, days=-1)
    world.cleo.post(
        staff_url(world, world.client, f"sessions/{session.pk}/status/"), {"status": "vanished"}
    )
    session.refresh_from_db()
    assert session.status == "scheduled"


def test_clinician_reschedules_a_session(world):
    session = session_of(world, days=3)
    new_day = in_days(5)
    response = world.cleo.post(
        staff_url(world, world.client, f"sessions/{session.pk}/"),
        session_data(
            date=new_day.isoformat(), time="09:30", duration_minutes="80", modality="in_person"
        ),
    )
    assert response.status_code == 302
    session.refresh_from_db()
    local = timezone.localtime(session.starts_at, ZoneInfo(world.practice.time_zone))
    assert (local.date(), local.hour, local.minute) == (new_day, 9, 30)
    assert (session.duration_minutes, session.modality) == (80, "in_person")


def test_bad_edit_changes_nothing(world):
    session = session_of(world, days=3)
    before = (session.starts_at, session.duration_minutes)
    response = world.cleo.post(
        staff_url(world, world.client, f"sessions/{session.pk}/"),
        session_data(duration_minutes="10000"),
    )
    assert response.status_code == 400
    session.refresh_from_db()
    assert (session.starts_at, session.duration_minutes) == before


def test_cancelling_a_session_moves_its_open_topics_to_the_next(world):
    first, second = session_of(world, days=2), session_of(world, days=9)
    item = AgendaItemFactory(practice=world.practice, client=world.client, session=first)
    world.cleo.post(
        staff_url(world, world.client, f"sessions/{first.pk}/status/"), {"status": "cancelled"}
    )
    item.refresh_from_db()
    assert item.session == second
    assert item.status == AgendaItem.Status.OPEN


# --- who may do what ----------------------------------------------------------------------------


def staff_actions(world, session):
    base = staff_url(world, world.client)
    return [
        ("get", base + "sessions/", None),
        ("post", base + "sessions/new/", session_data()),
        ("get", base + f"sessions/{session.pk}/", None),
        ("post", base + f"sessions/{session.pk}/", session_data(duration_minutes="30")),
        ("post", base + f"sessions/{session.pk}/status/", {"status": "cancelled"}),
    ]


def snapshot(client):
    return list(TherapySession.unscoped.filter(client=client).order_by("pk").values_list())


@pytest.mark.parametrize("who", ["dev", "me", "otto"])
def test_others_get_404_and_change_nothing(world, who):
    """A clinician of another client, the client themselves and another client: all refused."""
    session = session_of(world, days=-1)
    before = snapshot(world.client)
    http = getattr(world, who)
    for method, url, data in staff_actions(world, session):
        response = getattr(http, method)(url, data) if data else getattr(http, method)(url)
        assert response.status_code == 404, (who, method, url)
    assert snapshot(world.client) == before


def test_another_practice_gets_404(world, world_b, as_member):
    session = session_of(world, days=-1)
    before = snapshot(world.client)
    http = as_member(world_b.admin)
    for method, url, data in staff_actions(world, session):
        response = getattr(http, method)(url, data) if data else getattr(http, method)(url)
        assert response.status_code == 404
    # Practice B's own URL with A's ids: not found either.
    b_url = world_b.url(f"clients/{world.client.pk}/sessions/{session.pk}/status/")
    assert http.post(b_url, {"status": "cancelled"}).status_code == 404
    assert snapshot(world.client) == before


def test_a_session_of_another_client_is_not_found_under_this_client(world):
    theirs = session_of(world, world.shared_client, days=-1)
    url = staff_url(world, world.client, f"sessions/{theirs.pk}/status/")
    assert world.cleo.post(url, {"status": "attended"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "scheduled"


def test_admin_may_act_on_any_client(world):
    session = session_of(world, world.other_client, days=-1, clinician=world.clinician2)
    world.ada.post(
        staff_url(world, world.other_client, f"sessions/{session.pk}/status/"),
        {"status": "no_show"},
    )
    session.refresh_from_db()
    assert session.status == "no_show"


# --- what the client sees -----------------------------------------------------------------------


def test_client_sees_upcoming_and_past_sessions_and_the_next_one_at_home(world):
    session_of(world, days=-7, status="attended", modality="video")
    upcoming = session_of(world, days=3)
    session_of(world, world.other_client, days=1, clinician=world.clinician2)  # Otto's, not Kim's
    page = body(world.me.get(world.url("my/sessions/")))
    assert page.count("with Cleo Carefield") == 3  # next session, coming up, past
    assert "Dev Deepwater" not in page
    local = timezone.localtime(upcoming.starts_at, ZoneInfo(world.practice.time_zone))
    home = body(world.me.get(world.url()))
    assert "Your next session is on" in home
    assert local.strftime("%H:%M") in home


def test_clinician_sees_the_next_session_on_the_client_page(world):
    session_of(world, days=3, modality="video")
    page = body(world.cleo.get(staff_url(world, world.client)))
    assert "Next session:" in page and "video" in page


def test_services_refuse_staff_outside_the_care_team(world):
    with practice_scope(world.practice):
        with pytest.raises(Exception, match="care team"):
            services.schedule_session(
                practice=world.practice,
                actor=world.clinician2,
                client=world.client,
                starts_at=timezone.now() + timedelta(days=1),
            )
    assert sessions_of(world.client) == []


# --- constant query counts ----------------------------------------------------------------------


def fill(world, n):
    """n sessions (half past, half to come), n open topics and n requests for Kim."""
    for i in range(n):
        days = -(i + 1) if i % 2 else i + 1
        session = TherapySessionFactory(
            practice=world.practice,
            client=world.client,
            clinician=world.clinician,
            starts_at=timezone.now() + timedelta(days=days),
        )
        AgendaItemFactory(
            practice=world.practice,
            client=world.client,
            session=session,
            kind="not_today" if i % 3 == 0 else "discuss",
        )
        CareRequestFactory(
            practice=world.practice, client=world.client, kind="slower", status="answered"
        )


@pytest.mark.parametrize(
    "who, path",
    [
        ("cleo", "clients/{id}/sessions/"),
        ("cleo", "clients/{id}/"),
        ("ada", "clients/{id}/"),
        ("me", "my/sessions/"),
        ("me", ""),
    ],
)
def test_pages_run_the_same_queries_for_few_and_many_rows(world, who, path):
    url = world.url(path.format(id=world.client.pk))
    http = getattr(world, who)
    fill(world, 2)
    few, _ = count_queries(http, url)
    fill(world, 38)
    many, response = count_queries(http, url)
    assert many == few, f"{few} queries with 2 rows, {many} with 40"
    assert TherapySession.unscoped.filter(client=world.client).count() == 40
    assert response.status_code == 200
