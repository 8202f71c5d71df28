"""A digital twin of a planned day: staff each skill by Erlang, then run the real router on it.

Erlang C and A price each queue alone, with agents who do nothing else. A contact center is not
that: agents hold several skills, the router chooses among queues, shifts start and end on the
hour and customers hang up. So the requirement of each skill is confirmed by ``centralita
simulate`` — the routing engine itself on simulated customers — with the team the requirement
asks for, on duty hour by hour as the plan says. A skill whose simulated service level falls
short of its target tells the planner to add staff there before the day, not after it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from centralita.routing.scenario import Scenario
from centralita.routing.simulation import simulate
from centralita.wfm.replay import HOURS_PER_DAY, shift_groups
from centralita.wfm.staffing import StaffingTarget, staff_intervals

SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class SkillDay:
    """A skill's forecast day: contacts per hour of the day from 00:00, their mean handle time
    and (for Erlang A, and the simulated customers) their mean patience."""

    skill: str
    calls_per_hour: Sequence[float]
    aht_seconds: float
    patience_seconds: float | None = None


@dataclass(frozen=True)
class SkillCheck:
    skill: str
    agents_by_hour: list[int]
    target_service_level: float
    simulated_service_level: float | None
    simulated_asa_seconds: float | None
    simulated_abandonment: float | None

    @property
    def meets_target(self) -> bool:
        level = self.simulated_service_level
        return level is not None and level >= self.target_service_level


def confirm_staffing(
    plan: Sequence[SkillDay],
    target: StaffingTarget,
    *,
    days: int = 5,
    seed: int = 1,
    extra_agents: int = 0,
) -> list[SkillCheck]:
    """Staff every skill's hours by Erlang and simulate ``days`` such days on the real engine;
    ``extra_agents`` adds (or, negative, removes) agents in every staffed hour, to see how much
    margin the requirement has."""
    if not plan:
        raise ValueError("the plan has no skill")
    if len({day.skill for day in plan}) != len(plan):
        raise ValueError("a skill appears twice in the plan")
    staffing: dict[str, list[int]] = {}
    for day in plan:
        if len(day.calls_per_hour) != HOURS_PER_DAY:
            raise ValueError(f"{day.skill!r} needs {HOURS_PER_DAY} hourly volumes")
        needed = staff_intervals(
            day.calls_per_hour, [day.aht_seconds] * HOURS_PER_DAY, SECONDS_PER_HOUR, target
        ).agents
        staffing[day.skill] = [max(n + extra_agents, 0) if n else 0 for n in needed]
    scenario = Scenario.model_validate(
        {
            "name": "digital twin of the planned day",
            "simulation": {"seed": seed, "hours": HOURS_PER_DAY * days},
            "queues": [
                {
                    "name": day.skill,
                    "skills": {day.skill: 1},
                    "arrivals_per_hour": list(day.calls_per_hour),
                    "handle_time": {"distribution": "exponential", "mean": day.aht_seconds},
                    "patience": "infinite"
                    if day.patience_seconds is None
                    else {"distribution": "exponential", "mean": day.patience_seconds},
                    "sl_threshold_seconds": target.threshold_seconds,
                    "sl_target": target.service_level,
                }
                for day in plan
            ],
            "agents": [
                group
                for day in plan
                for group in shift_groups(
                    staffing[day.skill], skills={day.skill: 1}, prefix=f"{day.skill} "
                )
            ],
        }
    )
    result = simulate(scenario)
    return [
        SkillCheck(
            skill=day.skill,
            agents_by_hour=staffing[day.skill],
            target_service_level=target.service_level,
            simulated_service_level=result.queues[day.skill].service_level,
            simulated_asa_seconds=result.queues[day.skill].asa_seconds,
            simulated_abandonment=result.queues[day.skill].abandonment_rate,
        )
        for day in plan
    ]
