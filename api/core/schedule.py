"""Connection schedules: when a sync is due in the connection's own time zone, and its slot key.

A schedule names one moment per period (daily at `hour`, weekly on `weekday` at `hour`,
monthly on `day` at `hour`, local time). The *slot* of a moment is its key, unique per period:
the tick enqueues a connection when the latest scheduled moment at or before now has no run
yet, so a late or missed tick catches up once and a repeated tick finds the slot taken.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FREQUENCIES = ("off", "daily", "weekly", "monthly")
PAUSE_AFTER_FAILURES = 3  # failed scheduled runs in a row that pause a schedule


class ScheduleError(ValueError):
    """A schedule that cannot be kept; the message says which field and what is allowed."""


@dataclass(frozen=True)
class Schedule:
    """When a connection syncs by itself. weekday: 0 = Monday .. 6; day: 1..28 (every month has
    it); hour: 0..23 local time in `time_zone` (IANA name)."""

    frequency: str = "off"
    hour: int = 6
    weekday: int | None = None
    day: int | None = None
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ScheduleError(problem)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def _problem(s: Schedule) -> str | None:
    if s.frequency not in FREQUENCIES:
        return f"Schedule frequency '{s.frequency}' is not one of {', '.join(FREQUENCIES)}."
    if not (isinstance(s.hour, int) and 0 <= s.hour <= 23):
        return "Schedule hour must be a whole number from 0 to 23."
    if s.frequency == "weekly" and not (isinstance(s.weekday, int) and 0 <= s.weekday <= 6):
        return "A weekly schedule needs a weekday from 0 (Monday) to 6 (Sunday)."
    if s.frequency == "monthly" and not (isinstance(s.day, int) and 1 <= s.day <= 28):
        return "A monthly schedule needs a day of the month from 1 to 28."
    try:
        ZoneInfo(s.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"'{s.time_zone}' is not an IANA time zone (e.g. Europe/Paris)."
    return None


def last_moment(schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The latest scheduled moment at or before `now` (aware UTC), or None when off."""
    if schedule.frequency == "off":
        return None
    zone = schedule.zone
    local = now.astimezone(zone)
    candidate = _moment_in_period(schedule, local.date(), zone)
    if candidate > now:
        candidate = _moment_in_period(schedule, _previous_period(schedule, local.date()), zone)
    return candidate


def _moment_in_period(schedule: Schedule, day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The scheduled moment of the period (day, week, month) holding `day`, in UTC."""
    if schedule.frequency == "weekly":
        day = day - dt.timedelta(days=(day.weekday() - (schedule.weekday or 0)) % 7)
    elif schedule.frequency == "monthly":
        day = day.replace(day=schedule.day or 1)
        # the period of a date before the day is still "this month": _previous_period steps back
    local = dt.datetime.combine(day, dt.time(schedule.hour), tzinfo=zone)
    # An hour skipped by a DST change maps to the instant after the gap (fold=0 rules).
    return local.astimezone(dt.UTC)


def _previous_period(schedule: Schedule, day: dt.date) -> dt.date:
    if schedule.frequency == "daily":
        return day - dt.timedelta(days=1)
    if schedule.frequency == "weekly":
        return day - dt.timedelta(days=7)
    first = day.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def slot_key(schedule: Schedule, moment: dt.datetime) -> str:
    """`<frequency>:<local date>T<hour>` of a scheduled moment, e.g. `monthly:2026-12-01T06`."""
    local = moment.astimezone(schedule.zone)
    return f"{schedule.frequency}:{local:%Y-%m-%d}T{schedule.hour:02d}"


def due_slot(schedule: Schedule, now: dt.datetime, since: dt.datetime | None) -> str | None:
    """The slot to run now, or None: the latest moment at or before `now`, if it is not older
    than `since` (when the schedule was set: a new monthly schedule does not fire at once for
    a moment that passed before it existed)."""
    moment = last_moment(schedule, now)
    if moment is None or (since is not None and moment < since):
        return None
    return slot_key(schedule, moment)
