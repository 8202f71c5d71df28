"""Historical queue and agent reports, from the 15-minute aggregates.

Every report folds the tenant's pending facts first, then reads aggregates only, so a month of a
busy tenant is a few thousand rows. Periods are whole days in the tenant's time zone; intervals
are shown in that zone too.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.errors import FieldError, InvalidInput
from centralita.identity.models import User
from centralita.reporting import measures
from centralita.reporting.agent_time import agent_time
from centralita.reporting.fold import fold_tenant
from centralita.reporting.models import AgentIntervalStat, IntervalStat
from centralita.reporting.schemas import (
    AgentReport,
    AgentRow,
    Comparison,
    Granularity,
    IntervalRow,
    Period,
    QueueReport,
    QueueRow,
    SliceReport,
    SliceRow,
)
from centralita.reporting.settings import report_settings
from centralita.tenancy.models import Tenant

MAX_DAYS = 400
# 15-minute rows beyond two months are more than anyone reads; hours or days then.
MAX_INTERVAL_DAYS = 62
NO_DATA_NOTE = "No contacts in this period: every figure is zero."
STEP = {
    Granularity.INTERVAL: timedelta(minutes=15),
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(days=1),
}


@dataclass(frozen=True)
class Window:
    """A report's days, as local dates and as the UTC instants that bound them."""

    tenant: Tenant
    date_from: date
    date_to: date
    granularity: Granularity = Granularity.DAY

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.time_zone)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min, self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.date_to + timedelta(days=1), time.min, self.zone)

    @property
    def period(self) -> Period:
        return Period(
            date_from=self.date_from, date_to=self.date_to, time_zone=self.tenant.time_zone
        )

    def previous(self) -> "Window":
        days = (self.date_to - self.date_from).days + 1
        return Window(
            self.tenant,
            self.date_from - timedelta(days=days),
            self.date_to - timedelta(days=days),
            self.granularity,
        )


def window(
    tenant: Tenant,
    date_from: date,
    date_to: date,
    granularity: Granularity = Granularity.DAY,
) -> Window:
    """The period asked for, or a 422 naming what is wrong with it."""
    if date_to < date_from:
        message = "date_to is before date_from"
        raise InvalidInput(
            "The period ends before it starts",
            [FieldError("query.date_from", message), FieldError("query.date_to", message)],
        )
    days = (date_to - date_from).days + 1
    if days > MAX_DAYS:
        raise InvalidInput.on_field(
            "query.date_to", f"a report covers at most {MAX_DAYS} days; this asks for {days}"
        )
    if granularity == Granularity.INTERVAL and days > MAX_INTERVAL_DAYS:
        raise InvalidInput.on_field(
            "query.granularity",
            f"15-minute rows cover at most {MAX_INTERVAL_DAYS} days; use hour or day",
        )
    return Window(tenant, date_from, date_to, granularity)


def this_week(tenant: Tenant, day: date) -> Window:
    """Monday to Sunday of the week holding ``day``."""
    monday = day - timedelta(days=day.weekday())
    return Window(tenant, monday, monday + timedelta(days=6))


@dataclass
class Counters:
    offered: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0
    short: int = 0
    transferred: int = 0
    handled: int = 0
    wait: float = 0.0
    handle: float = 0.0

    def add(self, stat: Any) -> None:
        """Adds a row of ``interval_stats``: its last columns are the counters, in the order of
        ``COUNTER_COLUMNS`` (read by position, which a month of 15-minute rows notices)."""
        offered, answered, within, abandoned, short, transferred, handled, wait, handle = stat[
            -len(COUNTER_COLUMNS) :
        ]
        self.offered += offered
        self.answered += answered
        self.within += within
        self.abandoned += abandoned
        self.short += short
        self.transferred += transferred
        self.handled += handled
        self.wait += wait
        self.handle += handle

    def fields(self) -> dict[str, Any]:
        queue = measures.from_counts(
            offered=self.offered,
            answered=self.answered,
            within=self.within,
            abandoned=self.abandoned,
            short=self.short,
            total_wait=self.wait,
        )
        return {
            "offered": queue.offered,
            "answered": queue.answered,
            "answered_within_threshold": queue.answered_within_threshold,
            "abandoned": queue.abandoned,
            "short_abandoned": queue.short_abandoned,
            "service_level": queue.service_level,
            "asa_seconds": queue.asa_seconds,
            "abandonment_rate": queue.abandonment_rate,
            "transferred": self.transferred,
            "handled": self.handled,
            "aht_seconds": measures.mean(self.handle, self.handled),
        }

    def row(self) -> QueueRow:
        return QueueRow.model_validate(self.fields())


async def definition(session: AsyncSession) -> str:
    """The formulas behind a queue report, printed on it (KPI.md's default variant)."""
    settings = await report_settings(session)
    return (
        "Service level = answered within the queue's threshold / (answered + abandoned - "
        f"abandoned within {settings.short_abandon_seconds} s); abandonment = (abandoned - "
        "short abandons) / (offered - short abandons); ASA = mean wait of answered contacts; "
        "AHT = mean answer-to-end-of-wrap-up time. Each contact counts in the 15-minute "
        "interval in which it entered its queue."
    )


COUNTER_COLUMNS = (
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "short_abandoned",
    "transferred",
    "handled",
    "wait_answered_seconds",
    "handle_seconds",
)


async def interval_stats(
    session: AsyncSession,
    win: Window,
    queue: str | None = None,
    channel: str | None = None,
    *,
    by: tuple[str, ...] = (),
) -> list[Any]:
    """The period's counters summed in the database per ``by`` (column names of the aggregate
    table; nothing: one total row), each row carrying the counters under their column names."""
    await fold_tenant(session, win.tenant.id)
    keys = [getattr(IntervalStat, name) for name in by]
    sums = [
        func.coalesce(func.sum(getattr(IntervalStat, name)), 0).label(name)
        for name in COUNTER_COLUMNS
    ]
    query = select(*keys, *sums).where(
        IntervalStat.interval_start >= win.start, IntervalStat.interval_start < win.end
    )
    if queue is not None:
        query = query.where(IntervalStat.queue == queue)
    if channel is not None:
        query = query.where(IntervalStat.channel == channel)
    if keys:
        query = query.group_by(*keys)
    return list((await session.execute(query)).all())


def _buckets(win: Window, granularity: Granularity) -> Iterator[datetime]:
    """Every bucket start of the period, in local time (days and hours across DST included)."""
    if granularity == Granularity.DAY:
        for offset in range((win.date_to - win.date_from).days + 1):
            yield datetime.combine(win.date_from + timedelta(days=offset), time.min, win.zone)
        return
    at = win.start.astimezone(ZoneInfo("UTC"))
    while at < win.end:
        yield at.astimezone(win.zone)
        at += STEP[granularity]


def _bucket_of(at: datetime, win: Window, granularity: Granularity) -> datetime:
    local = at.astimezone(win.zone)
    if granularity == Granularity.DAY:
        return datetime.combine(local.date(), time.min, win.zone)
    if granularity == Granularity.HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    return local


def _total(stats: Iterable[Any]) -> Counters:
    total = Counters()
    width = len(COUNTER_COLUMNS)
    sums = [sum(column) for column in zip(*(stat[-width:] for stat in stats), strict=True)]
    if sums:
        total.add(sums)
    return total


async def queue_report(
    session: AsyncSession,
    win: Window,
    queue: str | None = None,
    channel: str | None = None,
) -> QueueReport:
    """Service level, abandonment, ASA, AHT and volume per interval, hour or day."""
    granularity = win.granularity
    stats = await interval_stats(session, win, queue, channel, by=("interval_start",))
    by_bucket: dict[datetime, Counters] = defaultdict(Counters)
    for stat in stats:
        by_bucket[_bucket_of(stat.interval_start, win, granularity)].add(stat)
    # Most buckets of a long period are empty: their (zero) measures are worked out once.
    empty = Counters().fields()
    # Built from counters this module computed, so pydantic's validation is skipped: a month of
    # 15-minute rows would otherwise spend most of the report's time in it.
    rows = [
        IntervalRow.model_construct(
            start=start, **(by_bucket[start].fields() if start in by_bucket else empty)
        )
        for start in _buckets(win, granularity)
    ]
    total = _total(stats)
    return QueueReport(
        period=win.period,
        definition=await definition(session),
        note=None if total.offered or total.handled else NO_DATA_NOTE,
        rows=rows,
        total=total.row(),
    )


async def slice_report(session: AsyncSession, win: Window) -> SliceReport:
    """The same measures per queue and channel over the whole period."""
    stats = await interval_stats(session, win, by=("queue", "channel"))
    by_slice: dict[tuple[str, str], Counters] = defaultdict(Counters)
    for stat in stats:
        by_slice[(stat.queue, stat.channel)].add(stat)
    rows = [
        SliceRow.model_validate({"queue": queue, "channel": channel, **counters.fields()})
        for (queue, channel), counters in sorted(by_slice.items())
    ]
    total = _total(stats)
    return SliceReport(
        period=win.period,
        definition=await definition(session),
        note=None if rows else NO_DATA_NOTE,
        rows=rows,
        total=total.row(),
    )


async def comparison(session: AsyncSession, win: Window) -> Comparison:
    """This period against the one just before it, of the same length."""
    before = win.previous()
    return Comparison(
        current=win.period,
        previous=before.period,
        current_total=_total(await interval_stats(session, win)).row(),
        previous_total=_total(await interval_stats(session, before)).row(),
    )


@dataclass
class AgentCounters:
    handled: int = 0
    handle: float = 0.0
    transfers: int = 0
    names: list[str] = field(default_factory=list)


async def agent_report(session: AsyncSession, win: Window, *, with_names: bool) -> AgentReport:
    """Per agent: contacts handled, AHT, handle hours, transfers, contacts per handle hour."""
    await fold_tenant(session, win.tenant.id)
    query = select(AgentIntervalStat).where(
        AgentIntervalStat.interval_start >= win.start, AgentIntervalStat.interval_start < win.end
    )
    by_agent: dict[uuid.UUID, AgentCounters] = defaultdict(AgentCounters)
    for stat in (await session.execute(query)).scalars():
        counters = by_agent[stat.agent_user_id]
        counters.handled += stat.handled
        counters.handle += stat.handle_seconds
        counters.transfers += stat.transferred
    names: dict[uuid.UUID, str] = {}
    if with_names and by_agent:
        found = await session.execute(
            select(User.id, User.display_name).where(User.id.in_(list(by_agent)))
        )
        names = dict(found.all())
    times = {
        agent: await agent_time(session, win.tenant.id, agent, win.start, win.end, utcnow())
        for agent in by_agent
    }
    rows = [
        AgentRow(
            agent_user_id=agent,
            agent_name=names.get(agent),
            handled=counters.handled,
            aht_seconds=measures.mean(counters.handle, counters.handled),
            handle_hours=counters.handle / 3600,
            transfers=counters.transfers,
            contacts_per_handle_hour=(
                counters.handled / (counters.handle / 3600) if counters.handle else None
            ),
            occupancy=times[agent].occupancy,
            utilisation=times[agent].utilisation,
        )
        for agent, counters in sorted(by_agent.items(), key=lambda item: -item[1].handled)
    ]
    return AgentReport(period=win.period, note=None if rows else NO_DATA_NOTE, rows=rows)
