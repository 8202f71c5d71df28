from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centralita.sla.business_time import (
    ALWAYS_OPEN,
    WEEKDAYS,
    BusinessCalendar,
    add_business_time,
    business_time_between,
    next_open,
)

MADRID = ZoneInfo("Europe/Madrid")
HOUR = timedelta(hours=1)
MICROSECOND = timedelta(microseconds=1)
OFFICE_HOURS = {day: [("09:00", "18:00")] for day in WEEKDAYS[:5]}
SPAIN = BusinessCalendar("Europe/Madrid", OFFICE_HOURS, holidays.country_holidays("ES"))
MADRID_ALL_DAY = BusinessCalendar("Europe/Madrid", {day: [("00:00", "24:00")] for day in WEEKDAYS})


def madrid(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=MADRID)


# Spanish office, Monday to Friday 09:00-18:00, national holidays.


def test_a_deadline_carries_over_the_weekend():
    due = add_business_time(SPAIN, madrid(2026, 11, 20, 17), 8 * HOUR)

    assert due == madrid(2026, 11, 23, 16)


def test_a_deadline_skips_a_public_holiday():
    due = add_business_time(SPAIN, madrid(2026, 12, 24, 17, 30), 4 * HOUR)

    assert due == madrid(2026, 12, 28, 12, 30)


def test_counting_starts_at_the_next_opening():
    due = add_business_time(SPAIN, madrid(2026, 11, 21, 10), HOUR)

    assert due == madrid(2026, 11, 23, 10)


def test_a_pause_moves_the_deadline_by_its_business_time():
    created, target = madrid(2026, 11, 23, 9), 16 * HOUR
    paused = business_time_between(SPAIN, madrid(2026, 11, 24, 10), madrid(2026, 11, 25, 10))

    unpaused_due = add_business_time(SPAIN, created, target)
    paused_due = add_business_time(SPAIN, created, target + paused)

    assert paused == 9 * HOUR
    assert (unpaused_due, paused_due) == (madrid(2026, 11, 24, 16), madrid(2026, 11, 25, 16))
    assert business_time_between(SPAIN, unpaused_due, paused_due) == 9 * HOUR


def test_using_up_the_day_exactly_ends_at_closing_time():
    assert add_business_time(SPAIN, madrid(2026, 11, 20, 17), HOUR) == madrid(2026, 11, 20, 18)


def test_a_zero_duration_ends_where_it_starts_even_when_closed():
    saturday = madrid(2026, 11, 21, 10)

    assert add_business_time(SPAIN, saturday, timedelta(0)) == saturday


def test_results_are_in_utc():
    assert add_business_time(SPAIN, madrid(2026, 11, 20, 17), HOUR).tzinfo is UTC
    assert next_open(SPAIN, madrid(2026, 11, 21, 10)).tzinfo is UTC


def test_next_open_is_the_instant_itself_when_open():
    assert next_open(SPAIN, madrid(2026, 11, 23, 12, 34)) == madrid(2026, 11, 23, 12, 34)
    assert next_open(SPAIN, madrid(2026, 11, 20, 18)) == madrid(2026, 11, 23, 9)


def test_a_tenant_closure_is_closed():
    event = (madrid(2026, 11, 23, 12), madrid(2026, 11, 24, 12))
    calendar = BusinessCalendar("Europe/Madrid", OFFICE_HOURS, closures=[event])

    assert add_business_time(calendar, madrid(2026, 11, 23, 10), 4 * HOUR) == madrid(
        2026, 11, 24, 14
    )
    assert business_time_between(calendar, *event) == timedelta(0)


# Hours across midnight.

NIGHT_SHIFT = {day: [("22:00", "06:00")] for day in WEEKDAYS[:5]}


def test_a_night_shift_runs_into_the_next_morning():
    calendar = BusinessCalendar("Europe/Madrid", NIGHT_SHIFT)

    # Friday 23:00 to Saturday 06:00 is 7 hours; the other 3 start with Monday's shift at 22:00.
    assert add_business_time(calendar, madrid(2026, 11, 20, 23), 10 * HOUR) == madrid(
        2026, 11, 24, 1
    )
    assert next_open(calendar, madrid(2026, 11, 21, 5)) == madrid(2026, 11, 21, 5)


def test_a_night_shift_belongs_to_the_day_it_starts_on():
    calendar = BusinessCalendar("Europe/Madrid", NIGHT_SHIFT, holidays.country_holidays("ES"))

    # The shift of the 24th runs into Christmas Day; Christmas Day's own shift is cancelled.
    christmas = business_time_between(calendar, madrid(2026, 12, 24, 12), madrid(2026, 12, 28, 12))

    assert christmas == 8 * HOUR


def test_overlapping_intervals_count_once():
    hours = {"fri": [("22:00", "06:00")], "sat": [("00:00", "08:00"), ("07:00", "09:00")]}
    calendar = BusinessCalendar("Europe/Madrid", hours)

    assert business_time_between(calendar, madrid(2026, 11, 20), madrid(2026, 11, 22)) == 11 * HOUR


# Daylight saving time in Europe/Madrid: 2026-03-29 skips 02:00-03:00, 2026-10-25 repeats it.


def test_days_with_a_dst_change_last_23_and_25_real_hours():
    def day_length(day: int, month: int) -> timedelta:
        return business_time_between(
            MADRID_ALL_DAY, madrid(2026, month, day), madrid(2026, month, day + 1)
        )

    assert (day_length(29, 3), day_length(25, 10), day_length(1, 10)) == (
        23 * HOUR,
        25 * HOUR,
        24 * HOUR,
    )


def test_adding_across_a_dst_change_counts_real_seconds():
    spring = add_business_time(MADRID_ALL_DAY, madrid(2026, 3, 29, 1, 30), HOUR)
    autumn = add_business_time(MADRID_ALL_DAY, madrid(2026, 10, 25, 1, 30), 2 * HOUR)

    assert spring == madrid(2026, 3, 29, 3, 30)
    assert autumn == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # the second 02:30 of the night


def test_a_night_window_across_the_change_holds_5_or_7_hours():
    calendar = BusinessCalendar("Europe/Madrid", {day: [("00:00", "06:00")] for day in WEEKDAYS})

    def open_time(day: int, month: int) -> timedelta:
        return business_time_between(
            calendar, madrid(2026, month, day), madrid(2026, month, day, 12)
        )

    assert (open_time(29, 3), open_time(25, 10)) == (5 * HOUR, 7 * HOUR)


def test_an_opening_the_clock_skips_starts_at_the_jump():
    calendar = BusinessCalendar("Europe/Madrid", {"sun": [("02:30", "05:00")]})

    assert next_open(calendar, madrid(2026, 3, 29)) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert business_time_between(calendar, madrid(2026, 3, 29), madrid(2026, 3, 30)) == 2 * HOUR


def test_an_opening_the_clock_shows_twice_starts_at_the_first():
    calendar = BusinessCalendar("Europe/Madrid", {"sun": [("02:30", "05:00")]})

    assert next_open(calendar, madrid(2026, 10, 25)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert business_time_between(calendar, madrid(2026, 10, 25), madrid(2026, 10, 26)) == 3.5 * HOUR


# Zones without daylight saving time.


def test_mexico_city_keeps_utc_minus_6_all_year():
    office = BusinessCalendar("America/Mexico_City", OFFICE_HOURS)
    all_day = BusinessCalendar(
        "America/Mexico_City", {day: [("00:00", "24:00")] for day in WEEKDAYS}
    )
    zone = ZoneInfo("America/Mexico_City")

    # Friday 17:00 + 2 hours: Monday 10:00, after the Sunday Mexico used to change its clocks.
    due = add_business_time(office, datetime(2026, 4, 3, 17, tzinfo=zone), 2 * HOUR)

    assert due == datetime(2026, 4, 6, 16, tzinfo=UTC)
    for day in (date(2026, 4, 5), date(2026, 10, 25)):
        midnight = datetime.combine(day, time(), zone)
        assert business_time_between(all_day, midnight, midnight + 24 * HOUR) == 24 * HOUR


def test_bogota_skips_colombian_holidays():
    calendar = BusinessCalendar(
        "America/Bogota",
        {day: [("08:00", "17:00")] for day in WEEKDAYS[:5]},
        holidays.country_holidays("CO"),
    )
    friday = datetime(2026, 11, 13, 16, tzinfo=ZoneInfo("America/Bogota"))

    # Monday the 16th is the (observed) Independence of Cartagena: Tuesday 10:00 is 15:00 UTC.
    assert add_business_time(calendar, friday, 3 * HOUR) == datetime(2026, 11, 17, 15, tzinfo=UTC)


# Around the clock.


@pytest.mark.parametrize("duration", [timedelta(0), MICROSECOND, 7 * HOUR, timedelta(days=400)])
def test_around_the_clock_is_plain_addition(duration):
    start = madrid(2026, 3, 28, 23, 59, 59)
    # Adding a timedelta to a Madrid datetime moves the wall clock; real time is added in UTC.
    end = start.astimezone(UTC) + duration

    assert add_business_time(ALWAYS_OPEN, start, duration) == end
    assert business_time_between(ALWAYS_OPEN, start, end) == duration


# Invalid input.


@pytest.mark.parametrize(
    "hours",
    [
        {},
        {"mon": []},
        {"monday": [("09:00", "18:00")]},
        {"mon": [("9:00", "18:00")]},
        {"mon": [("09:00", "25:00")]},
        {"mon": [("09:60", "18:00")]},
        {"mon": [("24:00", "06:00")]},
    ],
)
def test_invalid_weekly_hours_are_rejected(hours):
    with pytest.raises(ValueError, match=r"open hours|weekdays|time of day"):
        BusinessCalendar("Europe/Madrid", hours)


def test_invalid_zones_and_closures_are_rejected():
    with pytest.raises(ValueError, match="time zone"):
        BusinessCalendar("Europe/Atlantis", OFFICE_HOURS)
    with pytest.raises(ValueError, match="end after"):
        BusinessCalendar("UTC", OFFICE_HOURS, closures=[(madrid(2026, 1, 2), madrid(2026, 1, 1))])
    with pytest.raises(ValueError, match="timezone-aware"):
        BusinessCalendar("UTC", OFFICE_HOURS, closures=[(datetime(2026, 1, 1), madrid(2026, 1, 2))])


def test_naive_datetimes_and_negative_durations_are_rejected():
    naive = datetime(2026, 11, 23, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(SPAIN, naive, HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_time_between(SPAIN, madrid(2026, 11, 23), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_open(SPAIN, naive)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(SPAIN, madrid(2026, 11, 23), -HOUR)


class EveryDay:
    def __contains__(self, day: object) -> bool:
        return True


def test_a_calendar_that_never_opens_fails_instead_of_looping():
    calendar = BusinessCalendar("Europe/Madrid", OFFICE_HOURS, EveryDay())
    start = madrid(2026, 11, 23)

    with pytest.raises(ValueError, match="no open time"):
        add_business_time(calendar, start, HOUR)
    with pytest.raises(ValueError, match="no open time"):
        next_open(calendar, start)
    assert business_time_between(calendar, start, start + timedelta(days=30)) == timedelta(0)


# Properties, over random calendars in zones with and without daylight saving time.

NO_DST_ZONES = ["UTC", "America/Bogota", "America/Mexico_City"]
ZONES = [*NO_DST_ZONES, "Europe/Madrid", "America/New_York", "Australia/Lord_Howe"]
FIRST_DAY, LAST_DAY = datetime(2026, 1, 1), datetime(2027, 12, 31)
# The 2026 clock changes of Madrid, New York and Lord Howe (which moves by half an hour).
DST_CHANGES = [datetime(2026, 3, 29), datetime(2026, 10, 25), datetime(2026, 3, 8)]
DST_CHANGES += [datetime(2026, 11, 1), datetime(2026, 4, 5), datetime(2026, 10, 4)]
FAST = settings(max_examples=100, deadline=None)


def as_weekly_hours(rows: list[tuple[int, int, int]]) -> dict[str, list[tuple[str, str]]]:
    hours: dict[str, list[tuple[str, str]]] = {}
    for weekday, opens, closes in rows:
        hours.setdefault(WEEKDAYS[weekday], []).append((clock_time(opens), clock_time(closes)))
    return hours


def clock_time(minutes: int) -> str:
    return f"{minutes // 60:02}:{minutes % 60:02}"


# Drawn as flat rows because nested dictionaries of lists are slow for hypothesis to generate.
weekly_hours = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 24 * 60 - 1), st.integers(0, 24 * 60)),
    min_size=1,
    max_size=6,
).map(as_weekly_hours)
holiday_sets = st.frozensets(st.dates(FIRST_DAY.date(), LAST_DAY.date()), max_size=8)
instants = st.one_of(
    st.datetimes(FIRST_DAY, LAST_DAY, timezones=st.just(UTC)),
    st.sampled_from(DST_CHANGES).flatmap(
        lambda day: st.datetimes(
            day - timedelta(days=3), day + timedelta(days=1), timezones=st.just(UTC)
        )
    ),
)
durations = st.timedeltas(timedelta(0), timedelta(hours=200))
closures = st.tuples(instants, st.timedeltas(timedelta(minutes=1), timedelta(days=10))).map(
    lambda closure: (closure[0], closure[0] + closure[1])
)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    return BusinessCalendar(
        draw(st.sampled_from(ZONES)),
        draw(weekly_hours),
        draw(holiday_sets),
        draw(st.lists(closures, max_size=2)),
    )


@FAST
@given(calendars(), instants, durations)
def test_the_time_added_is_the_time_measured(calendar, start, duration):
    due = add_business_time(calendar, start, duration)

    assert business_time_between(calendar, start, due) == duration


@FAST
@given(calendars(), instants, durations, durations)
def test_longer_durations_never_end_earlier(calendar, start, duration, other):
    shorter, longer = sorted([duration, other])

    assert add_business_time(calendar, start, shorter) <= add_business_time(calendar, start, longer)


@FAST
@given(calendars(), instants, durations, durations)
def test_adding_in_two_steps_is_adding_the_sum(calendar, start, first, second):
    in_two_steps = add_business_time(calendar, add_business_time(calendar, start, first), second)

    assert in_two_steps == add_business_time(calendar, start, first + second)


@FAST
@given(calendars(), instants, durations.filter(bool))
def test_a_deadline_ends_open_time(calendar, start, duration):
    due = add_business_time(calendar, start, duration)

    # The microsecond just before the deadline was open: it is inside or at the end of an interval.
    assert business_time_between(calendar, due - MICROSECOND, due) == MICROSECOND


@FAST
@given(calendars(), instants, instants)
def test_open_time_is_within_the_wall_time(calendar, start, end):
    measured = business_time_between(calendar, start, end)

    assert timedelta(0) <= measured <= max(end - start, timedelta(0))


@FAST
@given(calendars(), instants)
def test_next_open_is_where_counting_starts(calendar, start):
    opening = next_open(calendar, start)

    assert opening >= start
    assert business_time_between(calendar, start, opening) == timedelta(0)
    assert add_business_time(calendar, start, MICROSECOND) == opening + MICROSECOND


def open_by_the_rules(zone, hours, holiday_dates, closed, instant) -> bool:
    """Whether ``instant`` is open, read off the wall clock interval by interval (no DST zones)."""
    if any(start <= instant < end for start, end in closed):
        return False
    wall = instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    for day in (wall.date(), wall.date() - timedelta(days=1)):
        midnight = datetime.combine(day, time())
        for opens, closes in [] if day in holiday_dates else hours.get(WEEKDAYS[day.weekday()], []):
            start, end = midnight + _offset(opens), midnight + _offset(closes)
            if start <= wall < (end if end > start else end + timedelta(days=1)):
                return True
    return False


def _offset(text: str) -> timedelta:
    hours, minutes = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(NO_DST_ZONES),
    weekly_hours,
    holiday_sets,
    st.lists(closures, max_size=2),
    instants,
)
def test_open_instants_follow_the_rules(zone, hours, holiday_dates, closed, instant):
    calendar = BusinessCalendar(zone, hours, holiday_dates, closed)

    is_open = next_open(calendar, instant) == instant

    assert is_open == open_by_the_rules(zone, hours, holiday_dates, closed, instant)
