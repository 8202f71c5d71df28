"""When a customer may be contacted: allowed weekly hours minus quiet hours, on their own clock.

Pure arithmetic on wall-clock minutes in the customer's time zone (the tenant's when the customer
has none). ``allowed`` maps weekdays ("mon".."sun") to openings such as ``[["09:00", "21:00"]]``
("24:00" closes at midnight); a weekday not listed is closed. ``quiet`` is one daily interval,
possibly crossing midnight (["21:30", "08:30"]), during which nobody is contacted.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# A weekly pattern repeats after seven days; one more covers an opening that began yesterday.
HORIZON_DAYS = 8


def minutes_of(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _quiet(minute: int, quiet: Sequence[str] | None) -> bool:
    if not quiet:
        return False
    start, end = minutes_of(quiet[0]), minutes_of(quiet[1])
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def _allowed(
    local: datetime, allowed: Mapping[str, Sequence[Any]], quiet: Sequence[str] | None
) -> bool:
    minute = local.hour * 60 + local.minute
    openings = allowed.get(WEEKDAYS[local.weekday()], [])
    inside = any(minutes_of(start) <= minute < minutes_of(end) for start, end in openings)
    return inside and not _quiet(minute, quiet)


def next_contact_time(
    at: datetime,
    time_zone: str,
    allowed: Mapping[str, Sequence[Any]],
    quiet: Sequence[str] | None,
) -> datetime | None:
    """``at`` if the customer may be contacted then, else the first minute after it they may
    (in UTC), or None when the hours allow no minute at all."""
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    if _allowed(local, allowed, quiet):
        return at
    # Candidate instants: each opening start and each quiet-hours end of the coming days.
    candidates: list[datetime] = []
    for offset in range(HORIZON_DAYS):
        day = (local + timedelta(days=offset)).date()
        starts = [minutes_of(start) for start, _ in allowed.get(WEEKDAYS[day.weekday()], [])]
        if quiet:
            starts.append(minutes_of(quiet[1]))
        for minute in starts:
            if minute >= MINUTES_PER_DAY:
                continue
            wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
            if wall > local and _allowed(wall, allowed, quiet):
                candidates.append(wall)
    return min(candidates).astimezone(at.tzinfo) if candidates else None
