"""Workforce management: staffing speed, forecast accuracy on real data, and the MILP schedule.

1. Erlang C staffing (SL 80/20, ASA 30 s, 85% occupancy cap, 30% shrinkage) for 96 fifteen-minute
   intervals x 50 queues, best of ``--repeat`` runs (target: under 1 s).
2. The Anonymous Bank log (Guedj & Mandelbaum, Technion SEE Lab, 1999; read from ../shared,
   ``null`` where absent): train on 1-24 October 1999, forecast 25-31 October per half hour from
   07:00 to 23:00; WAPE of the product's forecast and of the weekday-mean baseline.
3. A digital twin of October's Sunday-to-Thursday days: the log's hourly arrivals, handle times,
   patience and staffing through ``centralita simulate``'s engine, beside the logged measures.
4. The planner's week from that forecast: staffing per half hour, then a week's schedule for a
   team of ``--agents`` (two skills, 20-40 h contracts, 8 h shifts with a break and 4 h shifts)
   with SciPy's MILP; solve time and agent hours against the requirement's hours.

    .venv/bin/python bench/wfm.py [--repeat 5] [--agents 22]
"""

import argparse
import json
import time
from dataclasses import asdict
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path

import holidays
import numpy as np

from centralita.wfm import call_log, forecast, replay
from centralita.wfm.schedule import AgentContract, ShiftTemplate, build_schedule
from centralita.wfm.staffing import StaffingTarget, staff_intervals

# ``../shared`` beside the checkout (or beside the folder of worktrees holding it).
REPOSITORY = Path(__file__).resolve().parents[1]
DATA = next(
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
TRAIN = [date(1999, 10, 1) + timedelta(days=n) for n in range(24)]
WEEK = [date(1999, 10, 25) + timedelta(days=n) for n in range(7)]
OPENS, CLOSES, HALF_HOUR = clock(7), clock(23), 30
# The log's calls, the forecast week, and its WAPE beside the baseline's.
BankForecast = tuple[list[call_log.LoggedCall], list[forecast.DayForecast], dict[str, object]]


def staffing_seconds(repeat: int) -> dict[str, object]:
    rng = np.random.default_rng(7)
    # A day's curve per queue: quiet nights, a late-morning peak; 5 to 2 000 calls per interval.
    shape = np.sin(np.linspace(0, np.pi, 96)) ** 2
    calls = (rng.uniform(5, 2000, (50, 1)) * shape + 1).ravel()
    aht = rng.uniform(120, 600, calls.size)
    target = StaffingTarget(0.8, 20, asa_seconds=30, max_occupancy=0.85, shrinkage=0.3)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = staff_intervals(calls.tolist(), aht.tolist(), 900, target)
        best = min(best, time.perf_counter() - started)
    return {
        "intervals": calls.size,
        "seconds": round(best, 4),
        "max_agents": max(result.agents),
        "occupancy_binds_in": sum(b.value == "occupancy" for b in result.binding),
    }


def _bank_forecast() -> BankForecast:
    calls = list(call_log.read_calls(DATA))
    days = call_log.day_histories(calls, OPENS, CLOSES, HALF_HOUR)
    history = [days[d] for d in TRAIN]
    actual = [v for d in WEEK for v in days[d].contacts]
    predicted = forecast.forecast(history, WEEK, holidays.country_holidays("IL", years=1999))
    baseline = forecast.weekday_mean(history, WEEK)
    return (
        calls,
        predicted,
        {
            "forecast_wape": _round(
                forecast.wape([v for f in predicted for v in f.contacts], actual)
            ),
            "baseline_wape": _round(forecast.wape([v for d in baseline for v in d], actual)),
            "forecast_wape_by_day": {
                str(f.day): _round(forecast.wape(f.contacts, days[f.day].contacts))
                for f in predicted
            },
        },
    )


def forecast_wape() -> dict[str, object]:
    """The forecast's WAPE on the Anonymous Bank week (``null`` where the data is absent)."""
    if not DATA.exists():
        return {"forecast_wape": None, "baseline_wape": None}
    return _bank_forecast()[2]


def bank_week(agents: int) -> dict[str, object] | None:
    if not DATA.exists():
        return None
    calls, predicted, result = _bank_forecast()
    weekdays = [d for d in TRAIN + WEEK if d.weekday() not in (4, 5)]  # Sunday to Thursday
    twin = replay.compare(calls, weekdays, threshold_seconds=20)
    return result | {
        "schedule": _schedule(predicted, agents),
        "twin_sunday_to_thursday": {
            k: _round(v) if isinstance(v, float) else v for k, v in asdict(twin).items()
        },
    }


def _schedule(predicted: list[forecast.DayForecast], agents: int) -> dict[str, object]:
    """The forecast week staffed (SL 80/20, 85% cap) and scheduled, Monday to Sunday."""
    target = StaffingTarget(0.8, 20, max_occupancy=0.85)
    per_day = 24 * 60 // HALF_HOUR
    first = (OPENS.hour * 60) // HALF_HOUR
    by_weekday = {f.day.weekday(): f for f in predicted}
    week: list[float] = []
    for weekday in range(7):
        day = by_weekday[weekday]
        aht = [a if a is not None else 180.0 for a in day.aht_seconds]
        needed = staff_intervals(day.contacts, aht, HALF_HOUR * 60, target).agents
        week += [0.0] * first + [float(n) for n in needed]
        week += [0.0] * (per_day - first - len(needed))
    # Two skills: a quarter of the work needs English (PE calls); a third of the team speaks it.
    requirement: dict[str, list[float]] = {
        "hebrew": [float(round(n * 0.75)) for n in week],
        "english": [float(np.ceil(n * 0.25)) for n in week],
    }
    templates = [
        ShiftTemplate("8h", 510, list(range(7 * 60, 15 * 60 + 1, 30)), 30, (150, 330)),
        ShiftTemplate("4h", 240, list(range(7 * 60, 19 * 60 + 1, 60))),
    ]
    team = [
        AgentContract(
            f"agent-{n:02d}",
            frozenset({"hebrew", "english"} if n % 3 == 0 else {"hebrew"}),
            min_hours=20.0 if n % 2 else 30.0,
            max_hours=40.0,
        )
        for n in range(agents)
    ]
    schedule = build_schedule(requirement, HALF_HOUR, templates, team, time_limit_seconds=60)
    return {
        "agents": agents,
        "solve_seconds": round(schedule.solve_seconds, 3),
        "requirement_hours": schedule.required_hours,
        "agent_hours": schedule.agent_hours,
        "hours_over_requirement": round(schedule.agent_hours / schedule.required_hours, 3),
        "short_hours": round(schedule.short_hours, 2),
        "unassigned_hours": schedule.unassigned_hours,
        "shifts": len(schedule.shifts),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--agents", type=int, default=22)
    arguments = parser.parse_args()
    print(
        json.dumps(
            {
                "staffing_96x50": staffing_seconds(arguments.repeat),
                "anonymous_bank_week": bank_week(arguments.agents),
            }
        )
    )


if __name__ == "__main__":
    main()
