"""What contacts achieved: first-contact resolution and repeats, contact reasons and their trend,
cost per contact, and ticket SLA compliance.

FCR is measured from data, as KPI.md asks: a contact is resolved at first contact when the same
customer does not contact the tenant again about the same topic within the tenant's window.
"""

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.reporting import measures
from centralita.reporting.models import FactKind, InteractionFact
from centralita.reporting.schemas import (
    CostReport,
    FcrReport,
    ReasonReport,
    ReasonRow,
    SlaReport,
    SlaRow,
)
from centralita.reporting.service import NO_DATA_NOTE, Window, interval_stats
from centralita.reporting.settings import report_settings
from centralita.sla.models import SlaPolicy, SlaTarget, TargetStatus
from centralita.sla.ticket_tables import tickets

TOP_REASONS = 20
PROVISIONAL_NOTE = (
    "Contacts of the last {days} days may still be followed by a repeat: their FCR is provisional."
)


async def fcr_report(session: AsyncSession, win: Window) -> FcrReport:
    settings = await report_settings(session)
    days = timedelta(days=settings.fcr_days)
    query = (
        select(InteractionFact.customer_id, InteractionFact.topic, InteractionFact.at)
        .where(
            InteractionFact.kind == FactKind.OFFERED,
            InteractionFact.at >= win.start - days,
            InteractionFact.at < win.end + days,
        )
        .order_by(InteractionFact.at)
    )
    contacts: dict[tuple[object, str | None], list[datetime]] = defaultdict(list)
    for customer_id, topic, at in (await session.execute(query)).all():
        contacts[(customer_id, topic)].append(at)
    counted = resolved = repeats = 0
    for times in contacts.values():
        for index, at in enumerate(times):
            if not win.start <= at < win.end:
                continue
            counted += 1
            following = index + 1 < len(times) and times[index + 1] - at <= days
            resolved += not following
            repeats += index > 0 and at - times[index - 1] <= days
    note = NO_DATA_NOTE if not counted else None
    if counted and win.end + days > utcnow():
        note = PROVISIONAL_NOTE.format(days=settings.fcr_days)
    return FcrReport(
        period=win.period,
        window_days=settings.fcr_days,
        contacts=counted,
        resolved_first_time=resolved,
        repeat_contacts=repeats,
        fcr_rate=resolved / counted if counted else None,
        note=note,
    )


async def _topics(session: AsyncSession, win: Window) -> Counter[str]:
    query = (
        select(InteractionFact.topic, func.count())
        .where(
            InteractionFact.kind == FactKind.OFFERED,
            InteractionFact.topic.is_not(None),
            InteractionFact.at >= win.start,
            InteractionFact.at < win.end,
        )
        .group_by(InteractionFact.topic)
    )
    rows = (await session.execute(query)).all()
    return Counter({topic: count for topic, count in rows if topic is not None})


async def reasons_report(session: AsyncSession, win: Window) -> ReasonReport:
    """The most frequent contact reasons, each against the previous period of the same length."""
    now, before = await _topics(session, win), await _topics(session, win.previous())
    rows = [
        ReasonRow(
            topic=topic,
            contacts=count,
            previous_contacts=before[topic],
            change=(count - before[topic]) / before[topic] if before[topic] else None,
        )
        for topic, count in now.most_common(TOP_REASONS)
    ]
    return ReasonReport(period=win.period, note=None if rows else NO_DATA_NOTE, rows=rows)


async def cost_report(session: AsyncSession, win: Window) -> CostReport:
    """KPI.md: loaded cost per agent hour x handling hours / contacts handled."""
    settings = await report_settings(session)
    stats = await interval_stats(session, win)
    handled = sum(stat.handled for stat in stats)
    hours = sum(stat.handle_seconds for stat in stats) / 3600
    rate = settings.cost_per_agent_hour
    note = None
    if rate is None:
        note = "Set the cost per agent hour in the reporting settings to see the cost per contact."
    elif not handled:
        note = NO_DATA_NOTE
    return CostReport(
        period=win.period,
        currency=settings.currency,
        cost_per_agent_hour=rate,
        handle_hours=hours,
        contacts=handled,
        cost_per_contact=rate * hours / handled if rate is not None and handled else None,
        note=note,
    )


async def sla_report(session: AsyncSession, win: Window) -> SlaReport:
    """Ticket SLA targets decided in the period (met, or breached), by policy, priority and kind.

    A target counts as met when achieved without having breached; compliance is met / decided.
    """
    decided_at = func.coalesce(SlaTarget.breached_at, SlaTarget.achieved_at)
    query = (
        select(
            SlaPolicy.name,
            tickets.c.priority,
            SlaTarget.kind,
            SlaTarget.breached_at.is_(None),
            func.count(),
        )
        .join(SlaPolicy, SlaPolicy.id == SlaTarget.policy_id)
        .join(
            tickets,
            (tickets.c.tenant_id == SlaTarget.tenant_id) & (tickets.c.id == SlaTarget.ticket_id),
        )
        .where(
            SlaTarget.status != TargetStatus.CANCELLED,
            decided_at >= win.start,
            decided_at < win.end,
        )
        .group_by(
            SlaPolicy.name, tickets.c.priority, SlaTarget.kind, SlaTarget.breached_at.is_(None)
        )
    )
    met: Counter[tuple[str, str, str]] = Counter()
    missed: Counter[tuple[str, str, str]] = Counter()
    for policy, priority, kind, was_met, count in (await session.execute(query)).all():
        (met if was_met else missed)[(policy, str(priority), str(kind))] += count
    rows = [
        SlaRow(
            policy=policy,
            priority=priority,
            kind=kind,
            met=met[key],
            breached=missed[key],
            compliance=measures.mean(met[key], met[key] + missed[key]),
        )
        for key in sorted(met.keys() | missed.keys())
        for policy, priority, kind in [key]
    ]
    total_met, total_missed = sum(met.values()), sum(missed.values())
    return SlaReport(
        period=win.period,
        note=None if rows else NO_DATA_NOTE,
        rows=rows,
        met=total_met,
        breached=total_missed,
        compliance=measures.mean(total_met, total_met + total_missed),
    )
