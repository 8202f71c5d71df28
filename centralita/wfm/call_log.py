"""Per-call logs in the Technion SEE format ("Anonymous Bank", 1999), for validation.

The research data (``shared/data/workload/anonymous-bank-1999/``) is never shipped with the
product; this reader lets tests, benchmarks and a planner's own exports in the same layout feed
the forecaster, the KPIs and the simulator. One record per line, whitespace-separated (two lines
of the October file have spaces where a tab belongs), a header line first.

A call is *offered* to the agents when the IVR hands it over (KPI.md: for voice, after the IVR):
it either queued (``q_start`` set) or went straight to an agent. Calls that hung up inside the
IVR and ghost (``PHANTOM``) calls never reached the agent queue.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from centralita.reporting.measures import Contact
from centralita.wfm.forecast import DayHistory

FIELDS = 17
NEVER = "0:00:00"


@dataclass(frozen=True)
class LoggedCall:
    """One call that reached the agent queue; times are local wall-clock times of the centre."""

    offered_at: datetime
    wait_seconds: int
    answered: bool
    handle_seconds: int
    agent: str | None
    priority: int
    service: str

    @property
    def abandoned(self) -> bool:
        return not self.answered


def read_calls(path: Path) -> Iterator[LoggedCall]:
    """The offered calls of one monthly file, in file order."""
    with path.open(encoding="ascii") as lines:
        next(lines)  # header
        for number, line in enumerate(lines, start=2):
            fields = line.split()
            if len(fields) != FIELDS:
                raise ValueError(f"{path}:{number}: expected {FIELDS} fields, got {len(fields)}")
            call = _offered(fields)
            if call is not None:
                yield call


def _offered(fields: list[str]) -> LoggedCall | None:
    queued = fields[9] != NEVER
    outcome = fields[12]
    if outcome == "PHANTOM" or not (queued or outcome == "AGENT"):
        return None
    day = datetime.strptime(fields[5], "%y%m%d").date()
    # Offered when the IVR hands the call over (vru_exit), to the queue or straight to an agent.
    offered = _at(day, fields[7])
    answered = outcome == "AGENT"
    return LoggedCall(
        offered_at=offered,
        wait_seconds=int(fields[11]),
        answered=answered,
        handle_seconds=int(fields[15]) if answered else 0,
        agent=fields[16] if answered else None,
        priority=int(fields[3]),
        service=fields[4],
    )


def _at(day: date, clock: str) -> datetime:
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return datetime.combine(day, time()) + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def day_histories(
    calls: Iterable[LoggedCall], opens: time, closes: time, interval_minutes: int
) -> dict[date, DayHistory]:
    """Each day's contacts, handled calls and handle seconds per interval of the opening hours
    (calls offered outside them are left out)."""
    start = opens.hour * 60 + opens.minute
    width = closes.hour * 60 + closes.minute - start
    if interval_minutes <= 0 or width <= 0 or width % interval_minutes:
        raise ValueError("the opening hours must hold a whole number of intervals")
    count = width // interval_minutes
    days: dict[date, list[list[float]]] = {}
    for call in calls:
        moment = call.offered_at
        minute = moment.hour * 60 + moment.minute - start
        if not 0 <= minute < width:
            continue
        bins = days.setdefault(moment.date(), [[0.0] * count for _ in range(3)])
        index = minute // interval_minutes
        bins[0][index] += 1
        if call.answered:
            bins[1][index] += 1
            bins[2][index] += call.handle_seconds
    return {
        day: DayHistory(day, contacts=c, handled=h, handle_seconds=s)
        for day, (c, h, s) in sorted(days.items())
    }


def contacts(calls: Iterable[LoggedCall]) -> list[Contact]:
    """The calls as the facts ``reporting.measures`` computes KPI.md's queue measures from."""
    return [
        Contact(
            offered_at=call.offered_at,
            answered_at=call.offered_at + timedelta(seconds=call.wait_seconds)
            if call.answered
            else None,
            abandoned_at=None
            if call.answered
            else call.offered_at + timedelta(seconds=call.wait_seconds),
        )
        for call in calls
    ]
