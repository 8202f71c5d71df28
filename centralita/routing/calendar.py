"""Business calendars: when a queue is open, in its tenant's time zone and public holidays.

``Queue.business_hours`` maps weekdays ("mon".."sun") to openings in local wall-clock time, such
as ``{"mon": [["08:00", "14:00"], ["15:00", "20:00"]]}`` ("24:00" ends an opening at midnight).
A weekday not listed is closed, and so is every public holiday of the tenant's country and
region. An empty mapping means always open, holidays included: a round-the-clock service is
staffed every day. Openings follow daylight saving time: "08:00" is eight o'clock on the local
clock on every day of the year.
"""

import functools
from collections.abc import Container, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from holidays import HolidayBase, country_holidays

from centralita.routing.models import Queue
from centralita.tenancy.models import Tenant

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_HOUR = 60
# A year covers every weekly pattern and any run of holidays a real calendar has.
OPENING_HORIZON_DAYS = 366


def minutes_of(clock: str) -> int:
    """Minutes after midnight of an "HH:MM" wall-clock time ("24:00" is 1440)."""
    hours, minutes = clock.split(":")
    return int(hours) * MINUTES_PER_HOUR + int(minutes)


def tenant_holidays(tenant: Tenant) -> HolidayBase:
    """The public holidays of the tenant's country and region, national and regional alike.

    Shared by every caller in the process (read it, never change it): building a country's
    calendar costs more than a webhook's whole answer, and callers ask for it on every call."""
    return _country_holidays(tenant.country, tenant.subdivision)


@functools.lru_cache(maxsize=256)
def _country_holidays(country: str, subdivision: str | None) -> HolidayBase:
    # The calendar fills in each year the first time a date of that year is asked about.
    return country_holidays(country, subdiv=subdivision)


def _openings(business_hours: Mapping[str, Sequence[Any]], day: date) -> list[tuple[int, int]]:
    """The day's openings as (start, end) minutes after midnight, earliest first."""
    openings = business_hours.get(WEEKDAYS[day.weekday()], [])
    return sorted((minutes_of(start), minutes_of(end)) for start, end in openings)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; give one with a time zone")
    return at


def is_open(queue: Queue, tenant_time_zone: str, at: datetime, holidays: Container[date]) -> bool:
    """Whether the queue takes work at the instant ``at`` (a time-zone aware datetime).

    ``holidays`` holds the tenant's public holidays (:func:`tenant_holidays`), on which a queue
    with business hours is closed all day.
    """
    local = _aware(at).astimezone(ZoneInfo(tenant_time_zone))
    if not queue.business_hours:
        return True
    if local.date() in holidays:
        return False
    minute = local.hour * MINUTES_PER_HOUR + local.minute
    return any(
        start <= minute < end for start, end in _openings(queue.business_hours, local.date())
    )


def _first_instant_at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The first instant at which the local clock shows ``minute`` after midnight of ``day``, or
    later: the first of the two when the clocks go back; when they go forward over that time, the
    instant of the jump, as :func:`is_open` finds the queue open from then on."""
    wall = datetime.combine(day, time(minute // MINUTES_PER_HOUR, minute % MINUTES_PER_HOUR))
    instant = min(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    while instant.astimezone(zone).replace(tzinfo=None) < wall:
        instant += timedelta(minutes=1)
    return instant


def next_opening(
    queue: Queue, tenant_time_zone: str, at: datetime, holidays: Container[date]
) -> datetime | None:
    """When the queue is next open: ``at`` itself if it is open then, otherwise the next opening
    (in UTC); None if it does not open within a year (a calendar of holidays only)."""
    if is_open(queue, tenant_time_zone, at, holidays):
        return at
    zone = ZoneInfo(tenant_time_zone)
    first_day = at.astimezone(zone).date()
    for offset in range(OPENING_HORIZON_DAYS):
        day = first_day + timedelta(days=offset)
        if day in holidays:
            continue
        for start, _end in _openings(queue.business_hours, day):
            opening = _first_instant_at(day, start, zone)
            if opening > at:
                return opening
    return None
