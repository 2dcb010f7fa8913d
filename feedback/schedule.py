"""When check-ins fall due and when e-mail may go out: pure functions (no database).

Occurrences are named by keys that stay the same however often they are computed
("session:<id>", "date:2026-11-26"), so the invitation for one occurrence is created once
under a unique constraint, whichever job or worker computes it first.

Dates are the practice's local dates; a date occurrence falls due at the start of that day in
the practice's time zone (quiet hours then hold its e-mail back until the morning).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EVERY_SESSION = "every_session"
EVERY_NTH_SESSION = "every_nth_session"
EVERY_N_DAYS = "every_n_days"
WEEKDAYS = "weekdays"


@dataclass(frozen=True)
class SessionFact:
    """An attended session, as the schedule needs it."""

    pk: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Occurrence:
    key: str
    due_at: datetime
    session_id: int | None = None


def session_key(session_id: int) -> str:
    return f"session:{session_id}"


def date_key(day: date) -> str:
    return f"date:{day.isoformat()}"


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def session_occurrences(
    *, cadence: str, every: int, sessions: Iterable[SessionFact], counting_from: datetime,
    now: datetime,
) -> list[Occurrence]:
    """The occurrences among attended sessions that have ended by `now`.

    `sessions` are all the client's attended sessions that ended at or after `counting_from`
    (the ones before never count); every Nth counts them from there, in order.
    """
    ordered = sorted(
        (s for s in sessions if s.ends_at >= counting_from), key=lambda s: (s.starts_at, s.pk)
    )
    step = 1 if cadence == EVERY_SESSION else max(1, every)
    return [
        Occurrence(session_key(s.pk), s.ends_at, s.pk)
        for number, s in enumerate(ordered, start=1)
        if number % step == 0 and s.ends_at <= now
    ]


def latest_date_occurrence(
    *, cadence: str, every: int, weekdays: Iterable[int], starts_on: date, counting_from: date,
    today: date,
) -> date | None:
    """The most recent scheduled day up to `today` (the plan does not catch up further back),
    or None when there is none on or after both `starts_on` and `counting_from`."""
    if today < starts_on:
        return None
    if cadence == EVERY_N_DAYS:
        step = max(1, every)
        day = starts_on + timedelta(days=((today - starts_on).days // step) * step)
    elif cadence == WEEKDAYS:
        chosen = {int(d) for d in weekdays if 0 <= int(d) <= 6}
        day = next(
            (today - timedelta(days=back) for back in range(7)
             if (today - timedelta(days=back)).weekday() in chosen),
            None,
        )
        if day is None:
            return None
    else:
        return None
    if day < starts_on or day < counting_from:
        return None
    return day


def quiet_until(
    now: datetime, tz: ZoneInfo, start: time | None, end: time | None
) -> datetime | None:
    """When the quiet hours around `now` end (an aware datetime), or None outside them.

    Quiet hours are local times and may span midnight (21:00–08:00). Equal or missing times
    mean none.
    """
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(tz)
    today, clock = local.date(), local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = today
    else:  # across midnight
        inside = clock >= start or clock < end
        end_day = today + timedelta(days=1) if clock >= start else today
    if not inside:
        return None
    until = datetime.combine(end_day, end, tzinfo=tz)
    # Round-trip through UTC so a time skipped by a clock change still lands after `now`.
    return max(until.astimezone(ZoneInfo("UTC")), now)
