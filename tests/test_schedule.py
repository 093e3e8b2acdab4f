"""The pure schedule rules: due moments in the connection's time zone and their slot keys."""

from __future__ import annotations

import datetime as dt

import pytest

from api.core.schedule import Schedule, ScheduleError, due_slot, last_moment

UTC = dt.UTC
PARIS = Schedule("daily", 6, time_zone="Europe/Paris")
NY_MONDAY = Schedule("weekly", 9, weekday=0, time_zone="America/New_York")
TOKYO_1ST = Schedule("monthly", 0, day=1, time_zone="Asia/Tokyo")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "now", "slot"),
    [
        # daily at 06:00 Paris (UTC+1 in November): due from 05:00 UTC
        (PARIS, at(2026, 11, 21, 4, 59), "daily:2026-11-20T06"),
        (PARIS, at(2026, 11, 21, 5, 0), "daily:2026-11-21T06"),
        # weekly on Monday (0) 09:00 New York; 2026-11-23 is a Monday, 14:00 UTC = 09:00 EST
        (NY_MONDAY, at(2026, 11, 23, 13, 59), "weekly:2026-11-16T09"),
        (NY_MONDAY, at(2026, 11, 23, 14, 0), "weekly:2026-11-23T09"),
        (NY_MONDAY, at(2026, 11, 29, 23, 0), "weekly:2026-11-23T09"),
        # monthly on the 1st at 00:00 Tokyo (UTC+9): the local date is already December
        (TOKYO_1ST, at(2026, 11, 30, 15, 0), "monthly:2026-12-01T00"),
        (TOKYO_1ST, at(2026, 11, 30, 14, 59), "monthly:2026-11-01T00"),
        # monthly on the 20th, before it in January: December's moment (across the year)
        (Schedule("monthly", 3, day=20), at(2027, 1, 10, 0, 0), "monthly:2026-12-20T03"),
    ],
)  # fmt: skip
def test_the_due_slot_is_the_latest_moment_in_the_local_zone(
    schedule: Schedule, now: dt.datetime, slot: str
) -> None:
    assert due_slot(schedule, now, since=None) == slot


def test_every_hourly_tick_of_a_day_finds_the_same_daily_slot_once_due() -> None:
    schedule = Schedule("daily", 6, time_zone="Europe/Paris")
    ticks = [at(2026, 11, 21, 0) + dt.timedelta(hours=h) for h in range(24)]

    slots = [due_slot(schedule, t, since=None) for t in ticks]

    assert slots[:5] == ["daily:2026-11-20T06"] * 5
    assert slots[5:] == ["daily:2026-11-21T06"] * 19


def test_a_moment_before_the_schedule_was_set_is_not_due() -> None:
    schedule = Schedule("monthly", 6, day=1)
    set_on = at(2026, 11, 15, 12)

    assert due_slot(schedule, at(2026, 11, 20), since=set_on) is None
    assert due_slot(schedule, at(2026, 12, 1, 6), since=set_on) == "monthly:2026-12-01T06"


def test_off_is_never_due() -> None:
    assert last_moment(Schedule(), at(2026, 11, 21)) is None
    assert due_slot(Schedule("off"), at(2026, 11, 21), since=None) is None


def test_a_local_hour_skipped_by_daylight_saving_still_has_one_moment() -> None:
    # 2027-03-28 02:00 does not exist in Paris (clocks jump from 02:00 to 03:00).
    schedule = Schedule("daily", 2, time_zone="Europe/Paris")
    before, after = at(2027, 3, 28, 0, 30), at(2027, 3, 28, 2, 0)

    assert due_slot(schedule, before, since=None) == "daily:2027-03-27T02"
    assert due_slot(schedule, after, since=None) == "daily:2027-03-28T02"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"frequency": "hourly"}, "not one of off, daily, weekly, monthly"),
        ({"frequency": "daily", "hour": 24}, "hour must be a whole number from 0 to 23"),
        ({"frequency": "weekly", "weekday": None}, "weekday from 0 (Monday) to 6"),
        ({"frequency": "weekly", "weekday": 7}, "weekday from 0 (Monday) to 6"),
        ({"frequency": "monthly", "day": 31}, "day of the month from 1 to 28"),
        ({"frequency": "daily", "time_zone": "Mars/Olympus"}, "not an IANA time zone"),
    ],
)
def test_an_impossible_schedule_is_refused_with_the_field_to_fix(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Schedule(**values)  # type: ignore[arg-type]
