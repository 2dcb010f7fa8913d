"""When check-ins fall due and when e-mail may go out (pure functions, no database)."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from feedback import schedule

UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")
CHICAGO = ZoneInfo("America/Chicago")


def at(text: str, tz=UTC) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def sessions(*starts):
    return [
        schedule.SessionFact(pk=n, starts_at=at(s), ends_at=at(s) + timedelta(minutes=50))
        for n, s in enumerate(starts, start=1)
    ]


def test_every_session_is_due_once_it_has_ended():
    found = schedule.session_occurrences(
        cadence="every_session", every=1,
        sessions=sessions("2026-03-02T10:00", "2026-03-09T10:00", "2026-03-16T10:00"),
        counting_from=at("2026-03-01T00:00"), now=at("2026-03-16T10:30"),
    )
    # The third session is still running at 10:30.
    assert [o.key for o in found] == ["session:1", "session:2"]
    assert found[0].due_at == at("2026-03-02T10:50") and found[0].session_id == 1


def test_every_nth_session_counts_from_the_plan_start():
    attended = sessions(*(f"2026-03-{day:02d}T10:00" for day in (2, 9, 16, 23, 30)))
    found = schedule.session_occurrences(
        cadence="every_nth_session", every=2, sessions=attended,
        counting_from=at("2026-03-05T00:00"), now=at("2026-04-01T00:00"),
    )
    # Session 1 was before the plan: sessions 2..5 count as 1st..4th; the 2nd and 4th are due.
    assert [o.key for o in found] == ["session:3", "session:5"]


def test_every_n_days_is_due_on_the_latest_day_only():
    kwargs = dict(cadence="every_n_days", every=7, weekdays=[], starts_on=date(2026, 3, 2),
                  counting_from=date(2026, 3, 2))
    assert schedule.latest_date_occurrence(**kwargs, today=date(2026, 3, 2)) == date(2026, 3, 2)
    assert schedule.latest_date_occurrence(**kwargs, today=date(2026, 3, 8)) == date(2026, 3, 2)
    assert schedule.latest_date_occurrence(**kwargs, today=date(2026, 3, 20)) == date(2026, 3, 16)
    assert schedule.latest_date_occurrence(**kwargs, today=date(2026, 3, 1)) is None


def test_a_resumed_plan_does_not_catch_up():
    found = schedule.latest_date_occurrence(
        cadence="every_n_days", every=7, weekdays=[], starts_on=date(2026, 3, 2),
        counting_from=date(2026, 3, 10), today=date(2026, 3, 12),
    )
    assert found is None  # 9 March was while paused; the next is 16 March


def test_weekdays():
    kwargs = dict(cadence="weekdays", every=1, weekdays=[1, 4], starts_on=date(2026, 3, 1),
                  counting_from=date(2026, 3, 1))  # Tuesdays and Fridays
    assert schedule.latest_date_occurrence(**kwargs, today=date(2026, 3, 3)) == date(2026, 3, 3)
    assert schedule.latest_date_occurrence(**kwargs, today=date(2026, 3, 5)) == date(2026, 3, 3)
    assert schedule.latest_date_occurrence(**kwargs, today=date(2026, 3, 8)) == date(2026, 3, 6)
    assert schedule.latest_date_occurrence(
        **(kwargs | {"weekdays": []}), today=date(2026, 3, 8)
    ) is None


@pytest.mark.parametrize(
    "local, expected",
    [
        ("2026-03-02T20:59", None),
        ("2026-03-02T21:00", "2026-03-03T08:00"),
        ("2026-03-02T23:30", "2026-03-03T08:00"),
        ("2026-03-03T03:00", "2026-03-03T08:00"),
        ("2026-03-03T07:59", "2026-03-03T08:00"),
        ("2026-03-03T08:00", None),
        ("2026-03-03T12:00", None),
    ],
)
def test_quiet_hours_across_midnight_in_the_practice_time_zone(local, expected):
    now = at(local, CHICAGO).astimezone(UTC)
    until = schedule.quiet_until(now, CHICAGO, time(21, 0), time(8, 0))
    assert until == (at(expected, CHICAGO) if expected else None)


def test_quiet_hours_within_a_day_and_none():
    now = at("2026-03-02T12:30", LONDON)
    assert schedule.quiet_until(now, LONDON, time(12, 0), time(14, 0)) == at("2026-03-02T14:00",
                                                                              LONDON)
    assert schedule.quiet_until(now, LONDON, None, None) is None
    assert schedule.quiet_until(now, LONDON, time(9, 0), time(9, 0)) is None


def test_quiet_hours_end_on_a_day_the_clocks_change():
    # 29 March 2026: London skips 01:00-02:00. Quiet 00:00-01:30 ends at a time that does not
    # exist; the end is still after `now`.
    now = at("2026-03-29T00:30", LONDON)
    until = schedule.quiet_until(now, LONDON, time(0, 0), time(1, 30))
    assert until is not None and until > now
