"""Erlang C staffing: how many agents a queue needs, and what service a given team gives.

The model (KPI.md, "Staffing"): calls arrive as a Poisson process, handle times are exponential,
nobody abandons and N identical agents serve one FIFO queue (M/M/N). With offered load
``A = arrivals per second × AHT`` Erlangs and ``N > A``:

- probability of waiting ``Pw = C(N, A)`` (the Erlang C formula),
- service level ``SL(T) = 1 − Pw · e^{−(N−A)·T/AHT}``,
- average speed of answer ``ASA = Pw · AHT / (N − A)``,
- occupancy ``A / N``.

When ``A ≥ N`` the queue grows without bound: every caller waits (``Pw = 1``), the ASA is
infinite (``math.inf``), no call is answered within any threshold (``SL = 0``) and agents are
always busy (occupancy 1). These are limits, not errors, so callers can plot a staffing curve
through them.

Erlang C is computed from the Erlang B recursion ``B(0) = 1``,
``B(n) = A·B(n−1) / (n + A·B(n−1))``, whose terms stay in [0, 1]: loads of ten thousand Erlangs
neither overflow nor lose precision, unlike the textbook sums of ``A^n / n!``.
"""

import math
from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class ErlangC:
    """What ``agents`` agents give for a queue; durations in seconds, shares in [0, 1]."""

    agents: int
    load_erlangs: float
    probability_of_waiting: float
    average_speed_of_answer: float
    service_level: float
    occupancy: float


def offered_load(arrivals_per_hour: float, aht_seconds: float) -> float:
    """The traffic in Erlangs: how many agents would be busy all the time."""
    _check_non_negative("arrivals_per_hour", arrivals_per_hour)
    _check_positive("aht_seconds", aht_seconds)
    return arrivals_per_hour / SECONDS_PER_HOUR * aht_seconds


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of ``agents`` servers with no queue (Erlang B)."""
    _check_agents(agents)
    _check_non_negative("load", load)
    blocking = 1.0
    for servers in range(1, agents + 1):
        blocking = _next_erlang_b(blocking, servers, load)
    return blocking


def probability_of_waiting(agents: int, load: float) -> float:
    """Share of arrivals that find every agent busy and wait (Erlang C)."""
    _check_agents(agents)
    _check_non_negative("load", load)
    if load >= agents:
        return 1.0
    return _erlang_c_from_b(erlang_b(agents, load), agents, load)


def average_speed_of_answer(agents: int, load: float, aht_seconds: float) -> float:
    """Mean wait of all calls, those answered at once included; ``math.inf`` when A ≥ N."""
    _check_positive("aht_seconds", aht_seconds)
    waiting = probability_of_waiting(agents, load)
    if load >= agents:
        return math.inf
    return waiting * aht_seconds / (agents - load)


def service_level(agents: int, load: float, aht_seconds: float, threshold_seconds: float) -> float:
    """Share of calls answered within ``threshold_seconds``; 0 when A ≥ N."""
    _check_positive("aht_seconds", aht_seconds)
    _check_non_negative("threshold_seconds", threshold_seconds)
    waiting = probability_of_waiting(agents, load)
    if load >= agents:
        return 0.0
    return _service_level(waiting, agents, load, aht_seconds, threshold_seconds)


def occupancy(agents: int, load: float) -> float:
    """Share of the agents' time spent handling calls, capped at 1 when A ≥ N."""
    _check_agents(agents)
    _check_non_negative("load", load)
    return min(load / agents, 1.0)


def erlang_c(
    arrivals_per_hour: float, aht_seconds: float, agents: int, threshold_seconds: float
) -> ErlangC:
    """All the Erlang C measures of one team size at once."""
    load = offered_load(arrivals_per_hour, aht_seconds)
    return ErlangC(
        agents=agents,
        load_erlangs=load,
        probability_of_waiting=probability_of_waiting(agents, load),
        average_speed_of_answer=average_speed_of_answer(agents, load, aht_seconds),
        service_level=service_level(agents, load, aht_seconds, threshold_seconds),
        occupancy=occupancy(agents, load),
    )


def agents_needed(
    arrivals_per_hour: float,
    aht_seconds: float,
    *,
    target_service_level: float,
    threshold_seconds: float,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> int:
    """The smallest team that answers ``target_service_level`` of calls within
    ``threshold_seconds`` and keeps occupancy at most ``max_occupancy``, then grossed up for
    ``shrinkage`` (the share of paid time not available for calls: breaks, training, absence).

    With no traffic no agent is needed.
    """
    if not 0.0 < target_service_level < 1.0:
        raise ValueError(
            f"target_service_level must be between 0 and 1, got {target_service_level}"
        )
    if not 0.0 < max_occupancy <= 1.0:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy}")
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage}")
    _check_non_negative("threshold_seconds", threshold_seconds)
    load = offered_load(arrivals_per_hour, aht_seconds)
    if load == 0.0:
        return 0
    # Walk N upwards carrying B(N) along, so the search costs one recursion step per candidate.
    blocking = 1.0
    agents = 0
    while True:
        agents += 1
        blocking = _next_erlang_b(blocking, agents, load)
        if agents <= load or load / agents > max_occupancy:
            continue
        waiting = _erlang_c_from_b(blocking, agents, load)
        if (
            _service_level(waiting, agents, load, aht_seconds, threshold_seconds)
            >= target_service_level
        ):
            return math.ceil(agents / (1.0 - shrinkage))


def _next_erlang_b(previous: float, servers: int, load: float) -> float:
    return load * previous / (servers + load * previous)


def _erlang_c_from_b(blocking: float, agents: int, load: float) -> float:
    return agents * blocking / (agents - load * (1.0 - blocking))


def _service_level(
    waiting: float, agents: int, load: float, aht_seconds: float, threshold_seconds: float
) -> float:
    return 1.0 - waiting * math.exp(-(agents - load) * threshold_seconds / aht_seconds)


def _check_agents(agents: int) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise ValueError(f"agents must be a whole number of at least 1, got {agents!r}")


def _check_non_negative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} must be a finite number of at least 0, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a finite number above 0, got {value!r}")
