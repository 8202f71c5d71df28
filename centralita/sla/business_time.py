"""Business time: how much open time lies between two instants, and when an amount of it ends.

A ``BusinessCalendar`` is open during weekly hours in a time zone, except on public holidays and
during the tenant's own closures. An SLA deadline is ``add_business_time(calendar, created,
target)``; the time a ticket spent paused is ``business_time_between(calendar, paused, resumed)``.

The rules:

- Weekly hours are local wall-clock intervals ``(start, end)`` per weekday. An interval whose end
  is at or before its start crosses midnight: ``("22:00", "06:00")`` on ``fri`` runs from Friday
  22:00 to Saturday 06:00, and ``("09:00", "09:00")`` lasts 24 hours. ``"24:00"`` ends the day.
- An interval belongs to the day it starts on: a holiday cancels the intervals that start on it,
  while the night shift that starts on the eve of a holiday is worked in full (rotas name a night
  shift after its first evening).
- Closures are aware ``(start, end)`` intervals that are closed whatever the weekly hours say.
- Open time is real elapsed time. Across a DST change a 24-hour day holds 23 or 25 hours. A
  wall-clock time the clock skips (spring forward) stands for the instant of the jump; one the
  clock shows twice (fall back) stands for its first occurrence.
- Open time is half-open, ``[start, end)``: the instant an interval ends is closed.
- Inputs must be aware datetimes, in any zone; results are aware datetimes in UTC.

Complexity: a query walks the local days it spans, so its cost is O(days). The calendar computes
each day's open spans once (holiday lookup, DST conversion, removing overlaps and closures) and
caches them, after which a closed day costs one dictionary lookup. The cache holds one small entry
for each local day the calendar has been asked about. If a calendar has no open time for
``HORIZON_DAYS`` days in a row, ``add_business_time`` and ``next_open`` raise ``ValueError``
instead of searching forever.
"""

import re
from bisect import bisect_right
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS: Final = 2 * 366

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_ONE_DAY: Final = timedelta(days=1)
_CLOCK_TIME: Final = re.compile(r"(\d\d):([0-5]\d)")

# Open time as [start, end) in microseconds since the epoch. Integers keep the arithmetic exact, so
# measuring the time a deadline adds gives back the duration to the microsecond.
Span: TypeAlias = tuple[int, int]


class BusinessCalendar:
    """When a tenant is open: weekly hours in a time zone, minus holidays and closures.

    ``weekly_hours`` maps weekdays (``"mon"`` … ``"sun"``) to ``("HH:MM", "HH:MM")`` intervals;
    missing days are closed, but some day must be open (``ALWAYS_OPEN`` is the 24x7 calendar).
    ``holidays`` is any container of dates, such as ``holidays.country_holidays("ES")``.
    Immutable after construction and hashable by identity. Reuse one per tenant: it caches each
    local day's open time, which a fresh calendar first has to work out (about 25 µs a day).
    """

    __slots__ = ("_closures", "_day_spans", "_holidays", "_week", "time_zone")

    def __init__(
        self,
        time_zone: str,
        weekly_hours: Mapping[str, Iterable[tuple[str, str]]],
        holidays: Container[date] = frozenset(),
        closures: Iterable[tuple[datetime, datetime]] = (),
    ) -> None:
        unknown = set(weekly_hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekdays {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        try:
            self.time_zone: Final = ZoneInfo(time_zone)
        except ZoneInfoNotFoundError:
            raise ValueError(f"unknown time zone {time_zone!r}") from None
        # Per weekday: each interval as its opening and closing offsets from local midnight.
        self._week: Final = tuple(
            tuple(sorted(_interval_offsets(*interval) for interval in weekly_hours.get(day, ())))
            for day in WEEKDAYS
        )
        if not any(self._week):
            raise ValueError("a business calendar needs open hours; ALWAYS_OPEN is open 24x7")
        self._holidays: Final = holidays
        self._closures: Final = tuple(_merge(sorted(_closure_span(*c) for c in closures)))
        self._day_spans: Final[dict[date, tuple[Span, ...]]] = {}

    def _open_spans_on(self, day: date) -> tuple[Span, ...]:
        """Open time of the intervals that start on ``day``, disjoint from every other day's."""
        spans = self._day_spans.get(day)
        if spans is None:
            today = self._scheduled_spans(day)
            yesterday = self._scheduled_spans(day - _ONE_DAY)
            if yesterday:  # its last interval may run past midnight into today's: count that once
                today = [(max(start, yesterday[-1][1]), end) for start, end in today]
            spans = _subtract(self._closures, [(start, end) for start, end in today if start < end])
            self._day_spans[day] = spans
        return spans

    def _scheduled_spans(self, day: date) -> list[Span]:
        """The weekly intervals that start on ``day``, merged, closures aside; none on a holiday."""
        if day in self._holidays:
            return []
        midnight = datetime.combine(day, time())
        intervals = self._week[day.weekday()]
        return _merge(
            [(self._instant(midnight + o), self._instant(midnight + c)) for o, c in intervals]
        )

    def _open_spans_after(self, at: datetime) -> Iterator[Span]:
        """The open spans that end after ``at``, in order; ValueError after a horizon of nothing."""
        since = _microseconds(at)
        day = at.astimezone(self.time_zone).date() - _ONE_DAY  # a night shift may still be open
        closed_days = 0
        while closed_days < HORIZON_DAYS:
            spans = self._open_spans_on(day)
            closed_days = 0 if spans else closed_days + 1
            yield from (span for span in spans if span[1] > since)
            day += _ONE_DAY
        first_closed_day = day - closed_days * _ONE_DAY
        raise ValueError(
            f"the calendar has no open time in the {HORIZON_DAYS} days from {first_closed_day}"
        )

    def _instant(self, wall: datetime) -> int:
        """A local wall-clock reading as an instant: the jump if skipped, the first if repeated."""
        local = wall.replace(tzinfo=self.time_zone)
        if local.astimezone(UTC).astimezone(self.time_zone).replace(tzinfo=None) == wall:
            return _microseconds(local)
        # A skipped reading is read with the offset before the jump by fold=0 (landing after the
        # jump) and with the offset after it by fold=1 (landing before it): bisect between them.
        before, after = (
            _microseconds(wall.replace(tzinfo=self.time_zone, fold=1)),
            _microseconds(local),
        )
        offset_before = _utc(before).astimezone(self.time_zone).utcoffset()
        while after - before > 1:
            middle = (before + after) // 2
            if _utc(middle).astimezone(self.time_zone).utcoffset() == offset_before:
                before = middle
            else:
                after = middle
        return after


def add_business_time(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant at which ``duration`` of open time has elapsed since ``start``.

    Counting begins at the next opening if ``start`` is closed. A duration that uses up an interval
    exactly ends at that interval's end (Friday 18:00, not Monday 09:00), and a zero duration
    ends at ``start``. Raises ``ValueError`` for a naive ``start``, a negative ``duration``, or a
    calendar with no open time within ``HORIZON_DAYS``.
    """
    since = _microseconds(_aware("start", start))
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    remaining = duration // _MICROSECOND
    if remaining == 0:
        return start.astimezone(UTC)
    spans = calendar._open_spans_after(start)
    while True:
        opens, closes = next(spans)
        counted_from = max(opens, since)
        if remaining <= closes - counted_from:
            return _utc(counted_from + remaining)
        remaining -= closes - counted_from


def business_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """The open time in ``[start, end)``; zero when ``end`` is not after ``start``."""
    since, until = _microseconds(_aware("start", start)), _microseconds(_aware("end", end))
    if until <= since:
        return timedelta(0)
    day = start.astimezone(calendar.time_zone).date() - _ONE_DAY  # a night shift may be open
    last_day = end.astimezone(calendar.time_zone).date()
    total = 0
    while day <= last_day:
        for opens, closes in calendar._open_spans_on(day):
            total += max(0, min(closes, until) - max(opens, since))
        day += _ONE_DAY
    return timedelta(microseconds=total)


def next_open(calendar: BusinessCalendar, at: datetime) -> datetime:
    """``at`` itself if the calendar is open then, else the next opening (in UTC).

    Raises ``ValueError`` for a naive ``at`` or a calendar with no open time within
    ``HORIZON_DAYS``.
    """
    opens, _ = next(calendar._open_spans_after(_aware("at", at)))
    return _utc(max(opens, _microseconds(at)))


def _interval_offsets(opens: str, closes: str) -> tuple[timedelta, timedelta]:
    opening, closing = _clock_time(opens, end=False), _clock_time(closes, end=True)
    return opening, (closing if closing > opening else closing + _ONE_DAY)


def _clock_time(text: str, *, end: bool) -> timedelta:
    """``"HH:MM"`` as an offset from midnight; ``"24:00"`` is accepted as an end."""
    match = _CLOCK_TIME.fullmatch(text)
    offset = timedelta(hours=int(match[1]), minutes=int(match[2])) if match else None
    if offset is None or offset > _ONE_DAY or (offset == _ONE_DAY and not end):
        raise ValueError(f"{text!r} is not a time of day as HH:MM (or 24:00 as an end)")
    return offset


def _closure_span(start: datetime, end: datetime) -> Span:
    span = _microseconds(_aware("closure start", start)), _microseconds(_aware("closure end", end))
    if span[0] >= span[1]:
        raise ValueError(f"a closure must end after it starts: {start} to {end}")
    return span


def _merge(spans: Iterable[Span]) -> list[Span]:
    """``spans`` (sorted by start) without empty ones, overlapping or touching ones joined."""
    merged: list[Span] = []
    for start, end in spans:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(closed: Sequence[Span], spans: Iterable[Span]) -> tuple[Span, ...]:
    """``spans`` minus the time ``closed`` covers; both sorted and disjoint."""
    remaining: list[Span] = []
    for start, end in spans:
        first_closure = bisect_right(closed, start, key=lambda span: span[1])
        for closed_start, closed_end in closed[first_closure:]:
            if closed_start >= end:
                break
            if closed_start > start:
                remaining.append((start, closed_start))
            start = closed_end
        if start < end:
            remaining.append((start, end))
    return tuple(remaining)


def _aware(name: str, value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value}")
    return value


def _microseconds(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _utc(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)


ALWAYS_OPEN: Final = BusinessCalendar("UTC", dict.fromkeys(WEEKDAYS, (("00:00", "24:00"),)))
"""Open every second (24x7): business time is plain elapsed time."""
