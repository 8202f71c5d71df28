"""A digital twin of logged days: the log's traffic and staffing through ``centralita simulate``.

From a per-call log the twin takes, for the chosen days, the arrival rate of each hour of the day
(mean over the days), the handle times (a log-normal with the log's mean and standard deviation),
the customers' patience (exponential, with the rate estimated from abandonments over the total
time callers were seen waiting, the estimate that allows for callers who were answered before
their patience ran out) and the staffing of each hour (the most conversations held at once in
it, averaged over the days). The simulator then runs the real routing engine on that traffic,
and the twin's waits and abandonment can be set beside the logged ones.
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from centralita.reporting.measures import queue_measures
from centralita.routing.scenario import Scenario
from centralita.routing.simulation import QueueResult, simulate
from centralita.wfm.call_log import LoggedCall, contacts

HOURS_PER_DAY = 24
QUEUE = "logged"


@dataclass(frozen=True)
class TwinComparison:
    """Logged against simulated: service level, ASA, abandonment, P(wait); shares in [0, 1]."""

    logged_service_level: float | None
    simulated_service_level: float | None
    logged_asa_seconds: float | None
    simulated_asa_seconds: float | None
    logged_abandonment: float | None
    simulated_abandonment: float | None
    logged_offered: int
    simulated_offered: int
    staffing_by_hour: list[int]


def twin_scenario(
    calls: Sequence[LoggedCall], days: Sequence[date], threshold_seconds: float, seed: int = 1
) -> tuple[Scenario, list[int]]:
    """The simulation scenario of ``days`` of the log (one queue, its traffic and staffing) and
    the staffing of each hour of the day it was built with."""
    chosen = set(days)
    picked = [call for call in calls if call.offered_at.date() in chosen]
    if not picked:
        raise ValueError("the log holds no calls on those days")
    arrivals = [0.0] * HOURS_PER_DAY
    for call in picked:
        arrivals[call.offered_at.hour] += 1
    peaks = _busiest_moments(picked)
    staffing = [
        round(sum(peaks[day, hour] for day in chosen) / len(chosen))
        for hour in range(HOURS_PER_DAY)
    ]
    handles = [call.handle_seconds for call in picked if call.answered and call.handle_seconds]
    mean = sum(handles) / len(handles)
    sd = math.sqrt(sum((h - mean) ** 2 for h in handles) / (len(handles) - 1))
    abandons = sum(1 for call in picked if call.abandoned and call.wait_seconds > 0)
    waited = sum(call.wait_seconds for call in picked)
    scenario = Scenario.model_validate(
        {
            "name": f"twin of {len(chosen)} logged days",
            "simulation": {"seed": seed, "hours": HOURS_PER_DAY * len(chosen)},
            "queues": [
                {
                    "name": QUEUE,
                    "skills": {"service": 1},
                    "arrivals_per_hour": [count / len(chosen) for count in arrivals],
                    "handle_time": {"mean": mean, "sd": sd},
                    "patience": {"distribution": "exponential", "mean": waited / abandons}
                    if abandons
                    else "infinite",
                    "sl_threshold_seconds": threshold_seconds,
                }
            ],
            "agents": shift_groups(staffing),
        }
    )
    return scenario, staffing


def compare(
    calls: Sequence[LoggedCall], days: Sequence[date], threshold_seconds: float, seed: int = 1
) -> TwinComparison:
    """Run the twin and set its measures beside the log's for the same days."""
    scenario, staffing = twin_scenario(calls, days, threshold_seconds, seed)
    chosen = set(days)
    logged = queue_measures(
        contacts(call for call in calls if call.offered_at.date() in chosen), threshold_seconds
    )
    simulated: QueueResult = simulate(scenario).queues[QUEUE]
    return TwinComparison(
        logged_service_level=logged.service_level,
        simulated_service_level=simulated.service_level,
        logged_asa_seconds=logged.asa_seconds,
        simulated_asa_seconds=simulated.asa_seconds,
        logged_abandonment=logged.abandonment_rate,
        simulated_abandonment=simulated.abandonment_rate,
        logged_offered=logged.offered,
        simulated_offered=simulated.offered,
        staffing_by_hour=staffing,
    )


def _busiest_moments(calls: Sequence[LoggedCall]) -> dict[tuple[date, int], int]:
    """The most calls in service at once in each hour of each day.

    The log does not say who was on duty, only who talked when. While callers queue every agent
    on duty is talking, so the peak of simultaneous conversations in an hour is the team that
    hour had; counting the distinct agents who took a call overstates it (agents who came in for
    a few calls, or left early).
    """
    changes: dict[date, list[tuple[float, int]]] = defaultdict(list)
    for call in calls:
        if call.answered and call.handle_seconds:
            start = call.offered_at + timedelta(seconds=call.wait_seconds)
            day, midnight = start.date(), datetime.combine(start.date(), time())
            begin = (start - midnight).total_seconds()
            changes[day] += [(begin, 1), (begin + call.handle_seconds, -1)]
    peaks: dict[tuple[date, int], int] = defaultdict(int)
    for day, moments in changes.items():
        talking = 0
        # Ends sort before starts at the same second: a line freed and taken again is one agent.
        for at, change in sorted(moments):
            talking += change
            key = (day, min(int(at // 3600), HOURS_PER_DAY - 1))
            peaks[key] = max(peaks[key], talking)
    return peaks


def shift_groups(
    staffing: Sequence[int], skills: Mapping[str, int] | None = None, prefix: str = ""
) -> list[dict[str, object]]:
    """Agent groups with one shift each whose sum is ``staffing`` hour by hour: the k-th agent of
    an hour works every contiguous run of hours staffed by at least k."""
    groups: dict[tuple[int, int], int] = defaultdict(int)
    for level in range(1, max(staffing, default=0) + 1):
        hour = 0
        while hour < HOURS_PER_DAY:
            if staffing[hour] >= level:
                start = hour
                while hour < HOURS_PER_DAY and staffing[hour] >= level:
                    hour += 1
                groups[start, hour] += 1
            else:
                hour += 1
    return [
        {
            "name": f"{prefix}{start:02d}-{end:02d}",
            "count": count,
            "skills": dict(skills) if skills is not None else {"service": 1},
            # Round the clock is no shift at all (a shift lasts less than a day).
            "shift": None if end - start == HOURS_PER_DAY else {"start": start, "end": end},
        }
        for (start, end), count in sorted(groups.items())
    ]
