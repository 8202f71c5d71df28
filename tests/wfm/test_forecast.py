from datetime import date, timedelta

import pytest

from centralita.wfm import forecast
from centralita.wfm.forecast import DayHistory

START = date(2026, 1, 5)  # a Monday
SHAPE = [1, 2, 4, 2, 1]  # contacts per interval on a weekday, times the day's level


def history(
    weeks: int, *, holiday: date | None = None, holiday_contacts: int = 0
) -> list[DayHistory]:
    days: list[DayHistory] = []
    for n in range(weeks * 7):
        day = START + timedelta(days=n)
        level = 10 if day.weekday() < 5 else 2
        contacts = [level * s for s in SHAPE] if day.weekday() < 5 else [0, level, level, 0, 0]
        if day == holiday:
            contacts = [holiday_contacts] * 5
        days.append(DayHistory(day, contacts, contacts, [c * 200 for c in contacts]))
    return days


def test_a_steady_history_is_forecast_as_it_was():
    past = history(4)
    monday, saturday = START + timedelta(weeks=4), START + timedelta(weeks=4, days=5)

    [weekday, weekend] = forecast.forecast(past, [monday, saturday])

    assert weekday.contacts == pytest.approx([10 * s for s in SHAPE], abs=0.5)
    assert weekend.contacts == pytest.approx([0, 2, 2, 0, 0], abs=0.5)
    assert weekday.aht_seconds == pytest.approx([200] * 5)
    assert weekend.aht_seconds[0] is None  # nobody called then: no AHT to forecast


def test_a_closed_holiday_in_the_history_does_not_drag_its_weekday_down():
    holiday = START + timedelta(weeks=2, days=2)  # a Wednesday
    past = history(4, holiday=holiday)
    wednesday = START + timedelta(weeks=4, days=2)

    [with_holiday_known] = forecast.forecast(past, [wednesday], holidays={holiday})
    [ignoring_it] = forecast.forecast(past, [wednesday])

    assert sum(with_holiday_known.contacts) == pytest.approx(100, rel=0.02)
    assert sum(ignoring_it.contacts) < 95


def test_a_coming_holiday_is_forecast_as_quiet_as_past_holidays_were():
    past_holiday = START + timedelta(weeks=1, days=1)
    past = history(4, holiday=past_holiday, holiday_contacts=1)
    coming = START + timedelta(weeks=4, days=1)

    [day] = forecast.forecast(past, [coming], holidays={past_holiday, coming})

    assert sum(day.contacts) == pytest.approx(5, rel=0.05)


def test_the_baseline_is_the_mean_of_the_same_weekday():
    past = history(2)
    [monday] = forecast.weekday_mean(past, [START + timedelta(weeks=2)])

    assert monday == [10.0 * s for s in SHAPE]


def test_wape_weighs_errors_by_volume_and_is_none_without_volume():
    assert forecast.wape([10, 0], [8, 2]) == pytest.approx(4 / 10)
    assert forecast.wape([1, 1], [0, 0]) is None
    with pytest.raises(ValueError, match="one value per interval"):
        forecast.wape([1], [1, 2])


def test_a_busy_morning_raises_the_rest_of_the_day():
    revised = forecast.reforecast([10, 10, 10, 10], [20, 20])

    assert revised[:2] == [20, 20]
    assert 10 < revised[2] < 20  # scaled up, shrunk towards the plan


@pytest.mark.parametrize(
    ("past", "days", "message"),
    [
        ([], [START], "empty"),
        ([*history(1)[:1], DayHistory(START + timedelta(1), [1], [1], [1])], [START], "same"),
        (history(1) + history(1)[:1], [START + timedelta(7)], "twice"),
        (history(2), [START], "after the history"),
    ],
)
def test_bad_histories_are_refused(past, days, message):
    with pytest.raises(ValueError, match=message):
        forecast.forecast(past, days)
