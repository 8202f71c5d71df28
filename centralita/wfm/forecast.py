"""Forecast contacts and AHT per interval of the day from history, with the tenant's holidays.

The model splits the day in two, as planners do:

- **how many contacts a day**: Holt-Winters exponential smoothing (statsmodels) of the daily
  totals with a multiplicative weekly season, so a recent change in level carries forward while
  the weekly rhythm stays; holidays are left out of the fit (replaced by their weekday's usual
  level) so a closed day does not drag its weekday down;
- **how they spread over the day**: the share of the day's contacts in each interval, pooled over
  the weekdays whose shapes agree (Sunday to Thursday at an Israeli bank, Monday to Friday in
  Spain), which averages away most of the noise a single weekday's three or four weeks carry.

AHT per interval is the handle-weighted mean of the same day type's history. A holiday is
forecast like the quietest day type of the week unless past holidays say otherwise.

``weekday_mean`` is the baseline a forecast must beat (the mean of the same weekday and
interval), and ``wape`` the error measure: Σ|forecast − actual| / Σ actual.
"""

import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing

DAYS_PER_WEEK = 7
# Weekdays whose intraday shapes differ by less than this (Σ|share − share'|, 0 to 2) share one
# profile: the same-shaped weekdays of a month differ by about 0.1, a weekday and a weekend day
# by about 1.
SAME_SHAPE = 0.3
# Fewer days than two weeks cannot fit a weekly season; the weekday mean is used instead.
MIN_DAYS_FOR_SMOOTHING = 2 * DAYS_PER_WEEK
# Contacts' worth of weight the day type's mean AHT carries in each interval's AHT.
AHT_PRIOR_CONTACTS = 20


@dataclass(frozen=True)
class DayHistory:
    """One past day: per interval, the contacts offered and the handle seconds of those handled."""

    day: date
    contacts: Sequence[float]
    handled: Sequence[float]
    handle_seconds: Sequence[float]


@dataclass(frozen=True)
class DayForecast:
    day: date
    contacts: list[float]
    aht_seconds: list[float | None]


def forecast(
    history: Sequence[DayHistory], days: Sequence[date], holidays: Collection[date] = ()
) -> list[DayForecast]:
    """Contacts and AHT per interval for each of ``days`` (after the history)."""
    past = _checked(history)
    ordinary = [h for h in past if h.day not in holidays]
    if not ordinary:
        raise ValueError("the history has no ordinary (non-holiday) day to learn from")
    groups = _day_types(ordinary)
    profiles = {group: _profile(ordinary, members) for group, members in groups.items()}
    ahts = {group: _aht(ordinary, members) for group, members in groups.items()}
    usual = {
        w: float(np.mean([_total(h) for h in ordinary if h.day.weekday() == w] or [0.0]))
        for w in range(DAYS_PER_WEEK)
    }
    totals = _daily_totals(past, ordinary, usual, days)
    quietest = min(groups, key=lambda g: usual[g])
    holiday_level = _holiday_level(past, holidays, usual)
    forecasts = []
    for day in days:
        group, total = _group_of(groups, day.weekday()), totals[day]
        if day in holidays:
            group = quietest
            total = (
                usual[quietest] if holiday_level is None else usual[day.weekday()] * holiday_level
            )
        forecasts.append(
            DayForecast(
                day=day, contacts=(total * profiles[group]).tolist(), aht_seconds=ahts[group]
            )
        )
    return forecasts


def weekday_mean(history: Sequence[DayHistory], days: Sequence[date]) -> list[list[float]]:
    """The baseline: each interval's mean over the past days of the same weekday."""
    past = _checked(history)
    result = []
    for day in days:
        same = [h.contacts for h in past if h.day.weekday() == day.weekday()]
        if not same:
            raise ValueError(f"the history has no {day:%A} to average")
        result.append(np.mean(np.asarray(same, dtype=float), axis=0).tolist())
    return result


def wape(forecast_values: Sequence[float], actual: Sequence[float]) -> float | None:
    """Weighted absolute percentage error; None when nothing happened (no actual to weigh by)."""
    if len(forecast_values) != len(actual):
        raise ValueError("forecast and actual must have one value per interval each")
    total = float(np.sum(actual))
    if total == 0:
        return None
    return float(np.abs(np.asarray(forecast_values) - np.asarray(actual)).sum()) / total


def reforecast(planned: Sequence[float], actual_so_far: Sequence[float]) -> list[float]:
    """The rest of a day re-forecast from its morning: the remaining intervals scaled by how the
    elapsed ones ran against plan (the intervals already past keep their actual values).

    The ratio is shrunk towards 1 by the plan's own size so that a quiet first hour does not
    halve the afternoon: ``(actual + k) / (planned + k)`` with ``k`` one interval's mean plan.
    """
    elapsed = len(actual_so_far)
    if elapsed > len(planned):
        raise ValueError("more actual intervals than the day has")
    done = float(np.sum(planned[:elapsed]))
    prior = float(np.mean(planned)) if len(planned) else 0.0
    ratio = (float(np.sum(actual_so_far)) + prior) / (done + prior) if done + prior else 1.0
    return [float(a) for a in actual_so_far] + [p * ratio for p in planned[elapsed:]]


def _checked(history: Sequence[DayHistory]) -> list[DayHistory]:
    if not history:
        raise ValueError("the history is empty")
    widths = {len(h.contacts) for h in history} | {len(h.handled) for h in history}
    widths |= {len(h.handle_seconds) for h in history}
    if len(widths) != 1 or 0 in widths:
        raise ValueError("every day of the history must have the same intervals")
    if len({h.day for h in history}) != len(history):
        raise ValueError("a day appears twice in the history")
    return sorted(history, key=lambda h: h.day)


def _total(day: DayHistory) -> float:
    return float(np.sum(day.contacts))


def _shape(days: Sequence[DayHistory]) -> NDArray[np.float64]:
    summed = np.sum([np.asarray(d.contacts, dtype=float) for d in days], axis=0)
    total = summed.sum()
    return summed / total if total else np.full(summed.size, 1.0 / summed.size)


def _day_types(ordinary: Sequence[DayHistory]) -> dict[int, list[int]]:
    """Weekdays grouped by intraday shape; each group is named by its busiest weekday."""
    by_weekday = {w: [h for h in ordinary if h.day.weekday() == w] for w in range(DAYS_PER_WEEK)}
    seen = {w: days for w, days in by_weekday.items() if days}
    order = sorted(seen, key=lambda w: -np.mean([_total(h) for h in seen[w]]))
    groups: dict[int, list[int]] = {}
    for weekday in order:
        shape = _shape(seen[weekday])
        for leader, members in groups.items():
            if np.abs(shape - _shape(seen[leader])).sum() < SAME_SHAPE:
                members.append(weekday)
                break
        else:
            groups[weekday] = [weekday]
    return groups


def _group_of(groups: dict[int, list[int]], weekday: int) -> int:
    for leader, members in groups.items():
        if weekday in members:
            return leader
    # A weekday never seen (a centre closed that day so far) is forecast like the quietest type.
    return min(groups, key=lambda g: len(groups[g]))


def _profile(ordinary: Sequence[DayHistory], members: list[int]) -> NDArray[np.float64]:
    return _shape([h for h in ordinary if h.day.weekday() in members])


def _aht(ordinary: Sequence[DayHistory], members: list[int]) -> list[float | None]:
    """Handle-weighted mean per interval, shrunk towards the day type's mean by
    ``AHT_PRIOR_CONTACTS`` contacts, so that an interval of three calls does not swing it."""
    days = [h for h in ordinary if h.day.weekday() in members]
    handled = np.sum([np.asarray(h.handled, dtype=float) for h in days], axis=0)
    seconds = np.sum([np.asarray(h.handle_seconds, dtype=float) for h in days], axis=0)
    if not handled.sum():
        return [None] * handled.size
    mean = seconds.sum() / handled.sum()
    shrunk = (seconds + AHT_PRIOR_CONTACTS * mean) / (handled + AHT_PRIOR_CONTACTS)
    return [float(a) if n else None for a, n in zip(shrunk, handled, strict=True)]


def _daily_totals(
    past: Sequence[DayHistory],
    ordinary: Sequence[DayHistory],
    usual: dict[int, float],
    days: Sequence[date],
) -> dict[date, float]:
    """Each forecast day's total, smoothed from the daily series of the history where holidays
    and missing days stand at their weekday's usual level."""
    first, last = past[0].day, past[-1].day
    known = {h.day: _total(h) for h in ordinary}
    span = (last - first).days + 1
    series = [known.get(first.fromordinal(first.toordinal() + i)) for i in range(span)]
    filled = np.array(
        [
            value if value is not None else usual[(first.weekday() + i) % DAYS_PER_WEEK]
            for i, value in enumerate(series)
        ]
    )
    ahead = max((day - last).days for day in days) if days else 0
    if any(day <= last for day in days):
        raise ValueError("forecast days must come after the history")
    predicted = _smoothed(filled, ahead) if span >= MIN_DAYS_FOR_SMOOTHING else None
    return {
        day: max(
            usual[day.weekday()] if predicted is None else float(predicted[(day - last).days - 1]),
            0.0,
        )
        for day in days
    }


def _smoothed(series: NDArray[np.float64], ahead: int) -> NDArray[np.float64] | None:
    # A multiplicative season needs positive values; one contact more a day changes nothing a
    # planner sees and keeps closed days (0) in the model.
    model = ExponentialSmoothing(
        series + 1.0,
        trend=None,
        seasonal="mul",
        seasonal_periods=DAYS_PER_WEEK,
        initialization_method="estimated",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # A perfectly regular history fits with no error, and its information criteria (worked
        # out lazily, on forecasting) take log(0); they are not used here.
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = model.fit()
        predicted: NDArray[np.float64] = np.asarray(fitted.forecast(ahead), dtype=float) - 1.0
    if not np.isfinite(predicted).all():
        return None
    return predicted


def _holiday_level(
    past: Sequence[DayHistory], holidays: Collection[date], usual: dict[int, float]
) -> float | None:
    """How busy past holidays were against their weekday's usual level, when any were seen."""
    ratios = [
        _total(h) / usual[h.day.weekday()]
        for h in past
        if h.day in holidays and usual[h.day.weekday()] > 0
    ]
    return float(np.mean(ratios)) if ratios else None
