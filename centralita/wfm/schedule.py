"""A week's schedule that covers the staffing requirement with the fewest agent hours.

Two mixed-integer programmes solved by HiGHS through ``scipy.optimize.milp`` — an optimiser,
not a greedy fill, so it trades a long shift here against two short ones there as a planner
would. Agents with the same skills form a group; one binary per agent, day and shift variant
would make thousands of interchangeable columns (symmetry the solver cannot see through), so:

1. **Which shifts** (the covering programme): an integer ``y[g, d, v]`` — how many agents of
   group g work shift *variant* v (a template at one allowed start, its break at one allowed
   place) on day d; a continuous ``z[g, s, i] ≥ 0`` — how many of the group's working agents
   take skill s in interval i, so an agent with two skills covers either, never both at once
   (``Σ_s z ≤ working``); a continuous ``short[s, i] ≥ 0`` — requirement left uncovered, priced
   far above an agent hour, so that the programme is always solvable and says where the team
   is too small. The group's shifts fit its agents' days and summed contract hours. The
   objective is agent hours plus the priced shortfall.
2. **Who works them** (an assignment per group): a binary per agent and chosen shift, each
   shift given to exactly one agent, at most one a day, ``max_days`` a week, and between
   ``min_hours`` and ``max_hours`` of work (shift minus break) for each agent.
"""

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, sparse

DAYS_PER_WEEK = 7
MINUTES_PER_DAY = 24 * 60
# An uncovered agent-hour costs this many scheduled agent-hours: shortfall is the last resort.
SHORTFALL_PRICE = 50.0


@dataclass(frozen=True)
class ShiftTemplate:
    """A kind of shift: its length, when it may start, and one break placed within a window."""

    name: str
    length_minutes: int
    start_minutes: Sequence[int]
    break_minutes: int = 0
    # The break starts between these offsets from the shift's start (inclusive).
    break_after_minutes: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class AgentContract:
    agent: str
    skills: frozenset[str]
    min_hours: float = 0.0
    max_hours: float = 40.0
    max_days: int = 5
    days_off: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Shift:
    agent: str
    day: int
    template: str
    start_minute: int
    end_minute: int
    break_start_minute: int | None
    break_end_minute: int | None


@dataclass(frozen=True)
class Schedule:
    shifts: list[Shift]
    agent_hours: float
    required_hours: float
    short_hours: float
    # Hours of shifts the covering programme chose that no agent's contract could take.
    unassigned_hours: float
    # skill -> agents working on it per interval of the week
    coverage: dict[str, list[float]]
    solve_seconds: float


@dataclass(frozen=True)
class _Variant:
    template: ShiftTemplate
    start: int
    break_start: int | None

    @property
    def hours(self) -> float:
        return (self.template.length_minutes - self.template.break_minutes) / 60


def build_schedule(
    requirement: Mapping[str, Sequence[float]],
    interval_minutes: int,
    templates: Sequence[ShiftTemplate],
    agents: Sequence[AgentContract],
    time_limit_seconds: float = 30.0,
) -> Schedule:
    """The cheapest week: ``requirement`` gives, per skill, the agents needed in each interval
    of the week from Monday 00:00 (``7 × 24 × 60 / interval_minutes`` values)."""
    intervals = _check(requirement, interval_minutes, templates, agents)
    variants = [v for t in templates for v in _variants(t, interval_minutes)]
    skills = sorted(requirement)
    needed = {s: np.asarray(requirement[s], dtype=float) for s in skills}
    groups: dict[frozenset[str], list[AgentContract]] = {}
    for agent in agents:
        groups.setdefault(agent.skills & set(skills), []).append(agent)
    started = time.perf_counter()
    counts, coverage, short = _shift_counts(
        needed, interval_minutes, variants, groups, time_limit_seconds
    )
    shifts: list[Shift] = []
    unassigned = 0.0
    for members, wanted in zip(groups.values(), counts, strict=True):
        given, left = _assign(members, wanted, variants, time_limit_seconds)
        shifts += given
        unassigned += left
    hour_share = interval_minutes / 60
    return Schedule(
        shifts=sorted(shifts, key=lambda s: (s.day, s.start_minute, s.agent)),
        agent_hours=sum((s.end_minute - s.start_minute) / 60 for s in shifts)
        - sum(((s.break_end_minute or 0) - (s.break_start_minute or 0)) / 60 for s in shifts),
        required_hours=sum(float(needed[s].sum()) for s in skills) * hour_share,
        short_hours=short * hour_share,
        unassigned_hours=unassigned,
        coverage={s: coverage[s][:intervals] for s in skills},
        solve_seconds=time.perf_counter() - started,
    )


class _Rows:
    """Sparse constraint rows ``low ≤ Σ value · x[col] ≤ high`` for ``scipy.optimize.milp``."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.values: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, entries: Sequence[tuple[int, float]], low: float, high: float) -> None:
        for col, value in entries:
            self.rows.append(len(self.lower))
            self.cols.append(col)
            self.values.append(value)
        self.lower.append(low)
        self.upper.append(high)

    def solve(
        self, cost: Sequence[float], integer: Sequence[bool], upper: Sequence[float], limit: float
    ) -> NDArray[np.float64]:
        n = len(cost)
        matrix = sparse.csr_array((self.values, (self.rows, self.cols)), shape=(len(self.lower), n))
        result = optimize.milp(
            np.asarray(cost, dtype=float),
            integrality=np.asarray(integer, dtype=int),
            bounds=optimize.Bounds(np.zeros(n), np.asarray(upper, dtype=float)),
            constraints=optimize.LinearConstraint(matrix, self.lower, self.upper),
            options={"time_limit": limit, "mip_rel_gap": 1e-3},
        )
        if result.x is None:
            raise ValueError(f"no schedule meets the contracts: {result.message}")
        solution: NDArray[np.float64] = np.asarray(result.x, dtype=float)
        return solution


def _shift_counts(
    needed: Mapping[str, NDArray[np.float64]],
    interval_minutes: int,
    variants: Sequence[_Variant],
    groups: Mapping[frozenset[str], Sequence[AgentContract]],
    limit: float,
) -> tuple[list[dict[tuple[int, int], int]], dict[str, list[float]], float]:
    """Stage one: how many shifts of each variant each group of same-skilled agents works each
    day (integers), the skill each covers in each interval, and the shortfall."""
    per_day = MINUTES_PER_DAY // interval_minutes
    covers = [_covered(v, interval_minutes) for v in variants]
    group_list = list(groups.items())
    y = [
        (g, d, v)
        for g in range(len(group_list))
        for d in range(DAYS_PER_WEEK)
        for v in range(len(variants))
    ]
    demand = [(s, int(i)) for s in needed for i in np.flatnonzero(needed[s] > 0)]
    z = [(g, s, i) for s, i in demand for g, (skills, _) in enumerate(group_list) if s in skills]
    n_y, n_z = len(y), len(z)
    rows = _Rows()
    working: dict[tuple[int, int], list[int]] = {}
    for col, (g, d, v) in enumerate(y):
        for offset in covers[v]:
            working.setdefault((g, d * per_day + offset), []).append(col)
    for g, (_, members) in enumerate(group_list):
        mine = [c for c, (owner, _, _) in enumerate(y) if owner == g]
        hours = [(c, variants[y[c][2]].hours) for c in mine]
        rows.add(hours, sum(m.min_hours for m in members), sum(m.max_hours for m in members))
        rows.add([(c, 1.0) for c in mine], 0.0, float(sum(m.max_days for m in members)))
        for d in range(DAYS_PER_WEEK):
            free = sum(d not in m.days_off for m in members)
            rows.add([(c, 1.0) for c in mine if y[c][1] == d], 0.0, float(free))
    shares: dict[tuple[int, int], list[int]] = {}
    covering: dict[tuple[str, int], list[int]] = {}
    for offset, (g, s, i) in enumerate(z):
        shares.setdefault((g, i), []).append(n_y + offset)
        covering.setdefault((s, i), []).append(n_y + offset)
    for (g, i), z_of in shares.items():
        rows.add(
            [(c, 1.0) for c in z_of] + [(c, -1.0) for c in working.get((g, i), [])], -np.inf, 0
        )
    for k, (s, i) in enumerate(demand):
        entries = [(c, 1.0) for c in covering.get((s, i), [])] + [(n_y + n_z + k, 1.0)]
        rows.add(entries, float(needed[s][i]), np.inf)
    hour_share = interval_minutes / 60
    cost = [variants[v].hours for _, _, v in y] + [0.0] * n_z
    cost += [SHORTFALL_PRICE * hour_share] * len(demand)
    size = n_y + n_z + len(demand)
    solution = rows.solve(cost, [True] * n_y + [False] * (size - n_y), [np.inf] * size, limit)
    counts: list[dict[tuple[int, int], int]] = [{} for _ in group_list]
    for col, (g, d, v) in enumerate(y):
        if (count := round(solution[col])) > 0:
            counts[g][d, v] = count
    total = DAYS_PER_WEEK * per_day + per_day  # a shift may run past Sunday midnight
    coverage = {s: [0.0] * total for s in needed}
    for offset, (_, s, i) in enumerate(z):
        coverage[s][i] += float(solution[n_y + offset])
    return counts, coverage, float(solution[n_y + n_z :].sum())


def _assign(
    members: Sequence[AgentContract],
    wanted: Mapping[tuple[int, int], int],
    variants: Sequence[_Variant],
    limit: float,
) -> tuple[list[Shift], float]:
    """Stage two: give the group's shifts to its agents — at most one a day, never past an
    agent's maximum hours or days. Stage one fitted the group's totals, not each agent's, so a
    shift may be left unassigned or an agent below the minimum; both are priced rather than
    forbidden, and the hours left unassigned are returned with the shifts given."""
    slots = [(d, v) for (d, v), count in sorted(wanted.items()) for _ in range(count)]
    if not slots:
        return [], 0.0
    x = [
        (a, k)
        for a, m in enumerate(members)
        for k, (d, _) in enumerate(slots)
        if d not in m.days_off
    ]
    hours_of = [variants[v].hours for _, v in slots]
    rows = _Rows()
    for k in range(len(slots)):
        rows.add([(c, 1.0) for c, (_, slot) in enumerate(x) if slot == k], 0.0, 1.0)
    missing = len(x)  # one "hours below the minimum" column per agent follows the x columns
    for a, member in enumerate(members):
        mine = [c for c, (owner, _) in enumerate(x) if owner == a]
        hours = [(c, hours_of[x[c][1]]) for c in mine]
        rows.add(hours, 0.0, member.max_hours)
        rows.add([*hours, (missing + a, 1.0)], member.min_hours, np.inf)
        rows.add([(c, 1.0) for c in mine], 0.0, float(member.max_days))
        for d in range(DAYS_PER_WEEK):
            rows.add([(c, 1.0) for c in mine if slots[x[c][1]][0] == d], 0.0, 1.0)
    # Every shift given is worth more than its hours; an hour below a contract costs less than
    # leaving an hour of the requirement unworked.
    cost = [-SHORTFALL_PRICE * hours_of[k] for _, k in x] + [1.0] * len(members)
    solution = rows.solve(
        cost,
        [True] * len(x) + [False] * len(members),
        [1.0] * len(x) + [np.inf] * len(members),
        limit,
    )
    given = [(a, k) for c, (a, k) in enumerate(x) if solution[c] > 0.5]
    left = sum(hours_of) - sum(hours_of[k] for _, k in given)
    return [_shift(members[a].agent, slots[k][0], variants[slots[k][1]]) for a, k in given], left


def _check(
    requirement: Mapping[str, Sequence[float]],
    interval_minutes: int,
    templates: Sequence[ShiftTemplate],
    agents: Sequence[AgentContract],
) -> int:
    if interval_minutes <= 0 or MINUTES_PER_DAY % interval_minutes:
        raise ValueError("the interval must divide the day (15, 30 or 60 minutes)")
    intervals = DAYS_PER_WEEK * MINUTES_PER_DAY // interval_minutes
    if not requirement:
        raise ValueError("the requirement names no skill")
    for skill, values in requirement.items():
        if len(values) != intervals:
            raise ValueError(f"the requirement of {skill!r} must have {intervals} intervals")
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"the requirement of {skill!r} must be numbers of at least 0")
    if not templates:
        raise ValueError("at least one shift template is needed")
    for template in templates:
        early, late = template.break_after_minutes
        if not 0 < template.length_minutes < MINUTES_PER_DAY:
            raise ValueError(f"shift {template.name!r} must last between 0 and 24 hours")
        if template.length_minutes % interval_minutes or template.break_minutes % interval_minutes:
            raise ValueError(f"shift {template.name!r} must last whole intervals")
        if any(
            s % interval_minutes or not 0 <= s < MINUTES_PER_DAY for s in template.start_minutes
        ):
            raise ValueError(f"shift {template.name!r} must start on an interval of the day")
        if template.break_minutes and not (
            0 < early <= late <= template.length_minutes - template.break_minutes
        ):
            raise ValueError(f"the break of shift {template.name!r} must fall inside it")
    if not agents:
        raise ValueError("at least one agent is needed")
    for agent in agents:
        if not 0 <= agent.min_hours <= agent.max_hours:
            raise ValueError(f"the contract of {agent.agent!r} has min hours above max hours")
    return intervals


def _variants(template: ShiftTemplate, interval_minutes: int) -> list[_Variant]:
    if not template.break_minutes:
        return [_Variant(template, start, None) for start in template.start_minutes]
    early, late = template.break_after_minutes
    offsets = range(early - early % interval_minutes, late + 1, interval_minutes)
    return [
        _Variant(template, start, start + offset)
        for start in template.start_minutes
        for offset in offsets
        if offset >= early
    ]


def _covered(variant: _Variant, interval_minutes: int) -> list[int]:
    """The intervals from the start of the shift's day in which the agent is on the phones."""
    first = variant.start // interval_minutes
    count = variant.template.length_minutes // interval_minutes
    breaking: set[int] = set()
    if variant.break_start is not None:
        start = variant.break_start // interval_minutes
        breaking = set(range(start, start + variant.template.break_minutes // interval_minutes))
    return [i for i in range(first, first + count) if i not in breaking]


def _shift(agent: str, day: int, variant: _Variant) -> Shift:
    template = variant.template
    return Shift(
        agent=agent,
        day=day,
        template=template.name,
        start_minute=variant.start,
        end_minute=variant.start + template.length_minutes,
        break_start_minute=variant.break_start,
        break_end_minute=None
        if variant.break_start is None
        else variant.break_start + template.break_minutes,
    )
