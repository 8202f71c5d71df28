"""Staffing per interval: the fewest agents that meet a queue's targets, and which target binds.

For each interval the requirement is the smallest N that meets every target at once — the
service level (answered within T), the ASA, and the occupancy cap (agents pushed past ~85–90%
burn out) — then grossed up for shrinkage (breaks, training, absence: paid time not on the
phones). Each target's own smallest N is kept too, so a planner sees where the cap binds rather
than the service level.

Without a patience the model is Erlang C, computed for all intervals at once: the Erlang B
recursion advances one team size per step for every interval together (numpy), so a day of 96
intervals for 50 queues costs one pass up to the largest team. With a patience the model is
Erlang A (``erlang_a``), searched per interval by bisection, since its measures have no
recursion in N.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from centralita.wfm import erlang, erlang_a


class Binding(StrEnum):
    """The target that set an interval's requirement (the largest of the targets' own N)."""

    NONE = "none"  # no traffic, no agent
    SERVICE_LEVEL = "service_level"
    ASA = "asa"
    OCCUPANCY = "occupancy"


@dataclass(frozen=True)
class StaffingTarget:
    """What a queue promises: ``service_level`` of contacts answered within
    ``threshold_seconds``, optionally an ASA, at most ``max_occupancy``; ``shrinkage`` is the share
    of paid time not available for contacts; ``patience_seconds`` switches to Erlang A."""

    service_level: float = 0.8
    threshold_seconds: float = 20.0
    asa_seconds: float | None = None
    max_occupancy: float = 1.0
    shrinkage: float = 0.0
    patience_seconds: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.service_level < 1.0:
            raise ValueError(f"service level must be between 0 and 1, got {self.service_level}")
        if not (math.isfinite(self.threshold_seconds) and self.threshold_seconds >= 0):
            raise ValueError(f"threshold must be at least 0 s, got {self.threshold_seconds}")
        if self.asa_seconds is not None and not (
            math.isfinite(self.asa_seconds) and self.asa_seconds > 0
        ):
            raise ValueError(f"ASA target must be above 0 s, got {self.asa_seconds}")
        if not 0.0 < self.max_occupancy <= 1.0:
            raise ValueError(f"max occupancy must be in (0, 1], got {self.max_occupancy}")
        if not 0.0 <= self.shrinkage < 1.0:
            raise ValueError(f"shrinkage must be in [0, 1), got {self.shrinkage}")
        if self.patience_seconds is not None and not (
            math.isfinite(self.patience_seconds) and self.patience_seconds > 0
        ):
            raise ValueError(f"patience must be above 0 s, got {self.patience_seconds}")


@dataclass(frozen=True)
class IntervalStaffing:
    """One entry per interval: agents on the phones, agents to schedule, and why."""

    load_erlangs: list[float]
    agents: list[int]
    scheduled_agents: list[int]
    binding: list[Binding]


def staff_intervals(
    calls: Sequence[float],
    aht_seconds: Sequence[float],
    interval_seconds: float,
    target: StaffingTarget,
) -> IntervalStaffing:
    """The requirement of each interval, given its forecast calls and AHT."""
    if len(calls) != len(aht_seconds):
        raise ValueError("calls and aht_seconds must have one value per interval each")
    if not (math.isfinite(interval_seconds) and interval_seconds > 0):
        raise ValueError(f"interval must be above 0 s, got {interval_seconds}")
    volume = np.asarray(calls, dtype=float)
    aht = np.asarray(aht_seconds, dtype=float)
    if not (np.isfinite(volume).all() and (volume >= 0).all()):
        raise ValueError("calls must be finite numbers of at least 0")
    if not (np.isfinite(aht).all() and (aht > 0).all()):
        raise ValueError("aht_seconds must be finite numbers above 0")
    load = volume * aht / interval_seconds
    if target.patience_seconds is None:
        by_target = _erlang_c_requirements(load, aht, target)
    else:
        by_target = _erlang_a_requirements(volume, aht, interval_seconds, target)
    agents = by_target.max(axis=0)
    winner = by_target.argmax(axis=0)
    order = (Binding.SERVICE_LEVEL, Binding.ASA, Binding.OCCUPANCY)
    return IntervalStaffing(
        load_erlangs=load.tolist(),
        agents=[int(n) for n in agents],
        scheduled_agents=[math.ceil(int(n) / (1.0 - target.shrinkage)) for n in agents],
        binding=[Binding.NONE if n == 0 else order[w] for n, w in zip(agents, winner, strict=True)],
    )


def _erlang_c_requirements(
    load: NDArray[np.float64], aht: NDArray[np.float64], target: StaffingTarget
) -> NDArray[np.int64]:
    """Rows: the smallest N meeting the service level, the ASA and the occupancy target."""
    busy = load > 0
    by_occupancy = np.where(busy, np.ceil(load / target.max_occupancy - 1e-9), 0).astype(np.int64)
    by_service = np.zeros(load.size, dtype=np.int64)
    by_asa = np.zeros(load.size, dtype=np.int64)
    open_service = busy.copy()
    open_asa = busy.copy() if target.asa_seconds is not None else np.zeros(load.size, dtype=bool)
    # Every team below the load is unstable, so the search starts there: B(n, A) is the Poisson
    # pmf over its cdf at n, which scipy evaluates in log space however large A is.
    agents = np.maximum(np.floor(load), 1.0)
    blocking = np.exp(stats.poisson.logpmf(agents, load) - stats.poisson.logcdf(agents, load))
    while open_service.any() or open_asa.any():
        stable = agents > load
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            waiting = agents * blocking / (agents - load * (1.0 - blocking))
            gap = agents - load
            service = 1.0 - waiting * np.exp(-gap * target.threshold_seconds / aht)
            asa = waiting * aht / gap
        met_service = open_service & stable & (service >= target.service_level)
        by_service[met_service] = agents[met_service]
        open_service &= ~met_service
        if target.asa_seconds is not None:
            met_asa = open_asa & stable & (asa <= target.asa_seconds)
            by_asa[met_asa] = agents[met_asa]
            open_asa &= ~met_asa
        agents += 1.0
        blocking = load * blocking / (agents + load * blocking)
    return np.vstack([by_service, by_asa, by_occupancy])


def _erlang_a_requirements(
    volume: NDArray[np.float64],
    aht: NDArray[np.float64],
    interval_seconds: float,
    target: StaffingTarget,
) -> NDArray[np.int64]:
    assert target.patience_seconds is not None  # the caller chose Erlang A for it
    rows = np.zeros((3, volume.size), dtype=np.int64)
    for index, (calls, handle) in enumerate(zip(volume.tolist(), aht.tolist(), strict=True)):
        if calls:
            per_hour = calls * erlang.SECONDS_PER_HOUR / interval_seconds
            rows[:, index] = _erlang_a_row(per_hour, handle, target, target.patience_seconds)
    return rows


def _erlang_a_row(
    per_hour: float, aht: float, target: StaffingTarget, patience: float
) -> tuple[int, int, int]:
    def team(agents: int) -> erlang_a.ErlangA:
        return erlang_a.erlang_a(per_hour, aht, agents, target.threshold_seconds, patience)

    asa_target = target.asa_seconds
    return (
        _smallest(lambda n: team(n).service_level >= target.service_level),
        0
        if asa_target is None
        else _smallest(lambda n: team(n).average_speed_of_answer <= asa_target),
        _smallest(lambda n: team(n).occupancy <= target.max_occupancy),
    )


def _smallest(meets: Callable[[int], bool]) -> int:
    """The smallest team size for which ``meets`` holds, when it holds from there on upwards."""
    high = 1
    while not meets(high):
        high *= 2
    low = high // 2  # fails (or is 0)
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high
