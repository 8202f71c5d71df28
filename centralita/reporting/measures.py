"""The queue measures of KPI.md, computed from per-interaction facts; CSAT and NPS from survey
answers.

Every screen and report takes these numbers from here, so a service level means the same on the
wallboard, in the client's report and in the simulator.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SHORT_ABANDON_SECONDS = 5.0


@dataclass(frozen=True)
class Contact:
    """The facts of one contact that queue measures need."""

    offered_at: datetime
    answered_at: datetime | None = None
    abandoned_at: datetime | None = None


@dataclass(frozen=True)
class QueueMeasures:
    offered: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    short_abandoned: int
    service_level: float | None  # 0..1; None when nothing counted yet
    asa_seconds: float | None
    abandonment_rate: float | None


def _wait(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def service_level(within: int, answered: int, abandoned: int, short: int) -> float | None:
    """KPI.md's default: answered within T / (answered + abandoned − short abandons)."""
    counted = answered + abandoned - short
    return within / counted if counted else None


def abandonment_rate(offered: int, abandoned: int, short: int) -> float | None:
    """(abandoned − short abandons) / (offered − short abandons)."""
    return (abandoned - short) / (offered - short) if offered > short else None


def mean(total: float, count: int) -> float | None:
    return total / count if count else None


def from_counts(
    *,
    offered: int,
    answered: int,
    within: int,
    abandoned: int,
    short: int,
    total_wait: float,
) -> QueueMeasures:
    """The measures of counters kept elsewhere (the interval aggregates of reports)."""
    return QueueMeasures(
        offered=offered,
        answered=answered,
        answered_within_threshold=within,
        abandoned=abandoned,
        short_abandoned=short,
        service_level=service_level(within, answered, abandoned, short),
        asa_seconds=mean(total_wait, answered),
        abandonment_rate=abandonment_rate(offered, abandoned, short),
    )


def queue_measures(
    contacts: Iterable[Contact],
    threshold_seconds: float,
    short_abandon_seconds: float = SHORT_ABANDON_SECONDS,
) -> QueueMeasures:
    """The measures of individual contacts (the live wallboard, the simulator)."""
    offered = answered = within = abandoned = short = 0
    total_wait = 0.0
    for contact in contacts:
        offered += 1
        if contact.answered_at is not None:
            wait = _wait(contact.offered_at, contact.answered_at)
            answered += 1
            total_wait += wait
            within += wait <= threshold_seconds
        elif contact.abandoned_at is not None:
            abandoned += 1
            short += _wait(contact.offered_at, contact.abandoned_at) < short_abandon_seconds
    return from_counts(
        offered=offered,
        answered=answered,
        within=within,
        abandoned=abandoned,
        short=short,
        total_wait=total_wait,
    )


@dataclass(frozen=True)
class Satisfaction:
    """KPI.md's CSAT and NPS over a set of survey answers, with the counts behind them."""

    answers: int
    csat_answers: int
    csat_percent: float | None  # share of CSAT answers that are 4 or 5, in %
    nps_answers: int
    nps: float | None  # % promoters (9-10) minus % detractors (0-6)


def satisfaction(answers: Iterable[tuple[int | None, int | None]]) -> Satisfaction:
    """CSAT and NPS of ``(csat, nps)`` answer pairs; either may be missing from an answer."""
    rows = list(answers)
    csats = [csat for csat, _ in rows if csat is not None]
    scores = [nps for _, nps in rows if nps is not None]
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return Satisfaction(
        answers=len(rows),
        csat_answers=len(csats),
        csat_percent=100 * sum(1 for c in csats if c >= 4) / len(csats) if csats else None,
        nps_answers=len(scores),
        nps=100 * (promoters - detractors) / len(scores) if scores else None,
    )
