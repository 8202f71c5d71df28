"""Validation on a real bank call center's log (Guedj & Mandelbaum, Anonymous Bank call-center
data, Technion SEE Lab, 1999), read from ../shared where it is present."""

from datetime import date, time, timedelta
from pathlib import Path

import holidays
import pytest

from centralita.reporting.measures import queue_measures
from centralita.wfm import call_log, forecast, replay

# ``../shared`` beside the checkout (or beside the folder of worktrees holding it).
REPOSITORY = Path(__file__).resolve().parents[2]
OCTOBER = next(
    (
        found
        for found in (
            base / "shared/data/workload/anonymous-bank-1999/october.txt"
            for base in (REPOSITORY.parent, REPOSITORY.parent.parent)
        )
        if found.exists()
    ),
    REPOSITORY.parent / "shared/data/workload/anonymous-bank-1999/october.txt",
)

pytestmark = pytest.mark.skipif(not OCTOBER.exists(), reason="the Anonymous Bank data is absent")

TRAIN = [date(1999, 10, 1) + timedelta(days=n) for n in range(24)]
WEEK = [date(1999, 10, 25) + timedelta(days=n) for n in range(7)]


@pytest.fixture(scope="module")
def calls():
    return list(call_log.read_calls(OCTOBER))


@pytest.fixture(scope="module")
def days(calls):
    return call_log.day_histories(calls, time(7), time(23), 30)


def test_the_log_reads_as_its_readme_counts_it(calls):
    # README "Quick facts", October: 30,861 served, 2,089 abandoned after queueing.
    assert sum(call.answered for call in calls) == 30_861
    assert sum(call.abandoned and call.wait_seconds > 0 for call in calls) == 2_089


def test_kpis_of_one_day_equal_the_ones_counted_by_hand_from_the_raw_lines(calls):
    # Monday 25 October 1999, counted straight from the file's fields with no product code.
    day, raw = "991025", []
    for line in OCTOBER.read_text(encoding="ascii").splitlines()[1:]:
        fields = line.split()
        reached = fields[9] != "0:00:00" or fields[12] == "AGENT"
        if fields[5] == day and fields[12] != "PHANTOM" and reached:
            raw.append((fields[12] == "AGENT", int(fields[11])))
    answered = [wait for served, wait in raw if served]
    abandoned = [wait for served, wait in raw if not served]
    short = sum(wait < 5 for wait in abandoned)
    within = sum(wait <= 20 for wait in answered)

    measures = queue_measures(
        call_log.contacts(c for c in calls if c.offered_at.date() == date(1999, 10, 25)), 20
    )

    assert measures.offered == len(raw)
    assert measures.answered == len(answered)
    assert measures.abandoned == len(abandoned)
    assert measures.service_level == pytest.approx(
        within / (len(answered) + len(abandoned) - short)
    )
    assert measures.asa_seconds == pytest.approx(sum(answered) / len(answered))
    assert measures.abandonment_rate == pytest.approx((len(abandoned) - short) / (len(raw) - short))


def test_the_forecast_of_the_last_week_beats_the_weekday_mean(days):
    history = [days[d] for d in TRAIN]
    actual = [days[d].contacts for d in WEEK]
    israel = holidays.country_holidays("IL", years=1999)

    predicted = forecast.forecast(history, WEEK, israel)
    baseline = forecast.weekday_mean(history, WEEK)

    flat = [value for day in actual for value in day]
    model_error = forecast.wape([v for f in predicted for v in f.contacts], flat)
    baseline_error = forecast.wape([v for day in baseline for v in day], flat)
    assert model_error is not None
    assert baseline_error is not None
    # The reference: the weekday mean scores about 0.20 on this week.
    assert baseline_error == pytest.approx(0.20, abs=0.01)
    assert model_error < baseline_error - 0.015
    assert len(predicted) == 7
    assert all(len(f.contacts) == 32 for f in predicted)  # half hours from 07:00 to 23:00
    # The week's volume is right to within 8% (the last Sunday ran a third above its usual).
    assert sum(flat) == pytest.approx(sum(v for f in predicted for v in f.contacts), rel=0.08)
    # AHT per interval comes from the same day type's history: talk times of a few minutes.
    assert all(60 < aht < 400 for f in predicted for aht in f.aht_seconds if aht is not None)


def test_an_intraday_reforecast_from_the_morning_improves_the_afternoon(days):
    history = [days[d] for d in TRAIN]
    planned = forecast.forecast(history, WEEK)
    morning = 10  # 07:00 to 12:00
    better = 0
    for plan, day in zip(planned, WEEK, strict=True):
        actual = days[day].contacts
        revised = forecast.reforecast(plan.contacts, actual[:morning])
        before = forecast.wape(plan.contacts[morning:], actual[morning:])
        after = forecast.wape(revised[morning:], actual[morning:])
        assert before is not None
        assert after is not None
        better += after < before
        assert revised[:morning] == actual[:morning]
    assert better >= 5


def test_the_digital_twin_of_october_weekdays_replays_the_traffic(calls):
    weekdays = [d for d in TRAIN + WEEK if d.weekday() not in (4, 5)]  # Sunday to Thursday

    twin = replay.compare(calls, weekdays, threshold_seconds=20)

    assert twin.simulated_offered == pytest.approx(twin.logged_offered, rel=0.03)
    assert max(twin.staffing_by_hour) >= 8
    # The log records talk time only; the real agents also wrapped up and took breaks unlogged,
    # so the twin's team answers faster and loses fewer callers than the real one did.
    assert twin.simulated_abandonment is not None
    assert twin.logged_abandonment is not None
    assert twin.simulated_asa_seconds is not None
    assert twin.logged_asa_seconds is not None
    assert twin.simulated_abandonment < twin.logged_abandonment
    assert twin.simulated_asa_seconds < twin.logged_asa_seconds
