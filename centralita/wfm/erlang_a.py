"""Erlang A: Erlang C with customers who hang up (the M/M/N+M queue, Palm's model).

Calls arrive as a Poisson process at rate ``λ``, handle times are exponential with mean ``AHT``
(rate ``μ``), each waiting customer hangs up after an exponential patience with mean ``P``
(rate ``θ``), and N agents serve one FIFO queue. Unlike Erlang C the queue is stable at any
load: impatient customers keep it finite, so an understaffed team has a finite ASA and a high
abandonment rather than an infinite wait.

The stationary law is a birth-death chain: ``p(k) ∝ A^k / k!`` up to N busy agents, then
``p(N+j) = p(N) · Π_{i=1..j} λ / (Nμ + iθ)`` with j callers waiting. The part up to N comes from
the Erlang B recursion (``Σ_{k≤N} p(k) = p(N) / B(N, A)``) and the queue's part is summed in log
space, so ten thousand Erlangs neither overflow nor underflow.

An arrival that finds j callers ahead (PASTA: with the stationary probability of that state) is
reached after the hypo-exponential time ``V_j`` whose stages have rates ``Nμ + kθ`` for
k = j, ..., 0 (an agent frees up, or one of those ahead hangs up), and is served when ``V_j`` is
shorter than its own patience. Hence, exactly:

- ``P(served | j) = E[e^{−θ V_j}] = Π_k r_k / (r_k + θ)``,
- ``E[V_j · 1{served} | j] = P(served | j) · Σ_k 1 / (r_k + θ)`` (for the ASA of answered calls),
- ``P(served within T | j) = P(served | j) − e^{−θT} · Σ_k P(stage k at T | j) · P(served | k)``,
  the last sum by uniformisation of the pure-death chain of stages.

Measures follow KPI.md: the service level is answered within T / (answered + abandoned), with no
short abandons (the model has no threshold for them); ASA is the mean wait of answered calls.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from centralita.wfm import erlang

# Queue states whose probability is below this share of the largest are left out of the sums.
NEGLIGIBLE = 1e-15


@dataclass(frozen=True)
class ErlangA:
    """What ``agents`` agents give for a queue of impatient customers; shares in [0, 1]."""

    agents: int
    load_erlangs: float
    probability_of_waiting: float
    average_speed_of_answer: float
    service_level: float
    occupancy: float
    probability_of_abandoning: float


def erlang_a(
    arrivals_per_hour: float,
    aht_seconds: float,
    agents: int,
    threshold_seconds: float,
    patience_seconds: float,
) -> ErlangA:
    """All the Erlang A measures of one team size at once."""
    load = erlang.offered_load(arrivals_per_hour, aht_seconds)
    if not (math.isfinite(patience_seconds) and patience_seconds > 0):
        raise ValueError(
            f"patience_seconds must be a finite number above 0, got {patience_seconds!r}"
        )
    if not (math.isfinite(threshold_seconds) and threshold_seconds >= 0):
        raise ValueError(
            f"threshold_seconds must be a finite number of at least 0, got {threshold_seconds!r}"
        )
    blocking = erlang.erlang_b(agents, load)
    if load == 0.0:
        return ErlangA(agents, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    arrival_rate = arrivals_per_hour / erlang.SECONDS_PER_HOUR
    service_rate = agents / aht_seconds
    abandon_rate = 1.0 / patience_seconds
    # waiting[j]: the probability that an arrival finds all agents busy and j callers ahead.
    waiting = _queue_states(arrival_rate, service_rate, abandon_rate, blocking)
    stage_rates = service_rate + np.arange(waiting.size, dtype=np.float64) * abandon_rate
    served_given = np.cumprod(stage_rates / (stage_rates + abandon_rate), dtype=np.float64)
    mean_reach = np.cumsum(1.0 / (stage_rates + abandon_rate), dtype=np.float64)
    p_wait = float(waiting.sum())
    answered_after_waiting = float(waiting @ served_given)
    answered = (1.0 - p_wait) + answered_after_waiting
    late = _served_after(waiting, stage_rates, served_given, abandon_rate, threshold_seconds)
    return ErlangA(
        agents=agents,
        load_erlangs=load,
        probability_of_waiting=p_wait,
        average_speed_of_answer=float(waiting @ (served_given * mean_reach)) / answered,
        service_level=min(max(answered - late, 0.0), 1.0),
        occupancy=min(load * answered / agents, 1.0),
        probability_of_abandoning=max(1.0 - answered, 0.0),
    )


def _queue_states(
    arrival_rate: float, service_rate: float, abandon_rate: float, blocking: float
) -> NDArray[np.float64]:
    """Stationary probabilities of the states with every agent busy and 0, 1, 2... waiting."""
    # Past this many callers waiting, each new one is likelier to leave than the last to arrive:
    # the terms fall from there on, geometrically at least as fast as the ratio at the end.
    peak = max(0, math.ceil((arrival_rate - service_rate) / abandon_rate))
    length = peak + 64
    while True:
        ahead = np.arange(1, length)
        log_terms = np.concatenate(
            ([0.0], np.cumsum(np.log(arrival_rate / (service_rate + ahead * abandon_rate))))
        )
        if log_terms[-1] - log_terms.max() < math.log(NEGLIGIBLE):
            break
        length *= 2
    # Relative to p(N) = 1: the states up to N sum to 1 / B, the queue's to Σ exp(log_terms).
    top = log_terms.max()
    scaled = np.exp(log_terms - top)
    log_total = float(np.logaddexp(-math.log(blocking) - top, math.log(scaled.sum() - scaled[0])))
    probabilities: NDArray[np.float64] = np.exp(log_terms - top - log_total)
    return probabilities


def _served_after(
    waiting: NDArray[np.float64],
    stage_rates: NDArray[np.float64],
    served_given: NDArray[np.float64],
    abandon_rate: float,
    threshold_seconds: float,
) -> float:
    """Probability that an arrival is still waiting at T and is served later on."""
    if threshold_seconds == 0.0:
        return float(waiting @ served_given)
    # Uniformise the pure-death chain of stages at its fastest rate: after m steps of a Poisson
    # clock, stage k moves down with probability r_k / R and stays otherwise.
    uniform = float(stage_rates[-1])
    steps_mean = uniform * threshold_seconds
    poisson = stats.poisson(steps_mean)
    last = int(poisson.isf(NEGLIGIBLE)) + 1
    move = stage_rates / uniform
    stay = 1.0 - move
    weights = poisson.pmf(np.arange(last + 1))
    distribution = waiting.copy()
    at_threshold = weights[0] * distribution
    for step in range(1, last + 1):
        moved = distribution * move
        distribution = distribution * stay
        distribution[:-1] += moved[1:]
        at_threshold += weights[step] * distribution
    return math.exp(-abandon_rate * threshold_seconds) * float(at_threshold @ served_given)
