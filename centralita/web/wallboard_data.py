"""What the supervisor's wallboard shows besides the pushed queue statistics: handle times, the
agent grid, the work waiting, tickets about to breach, and today's intervals against last week.

Every query runs in the session's tenant scope.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer
from centralita.identity.models import Membership, User
from centralita.interactions.models import Interaction, InteractionState
from centralita.reporting.measures import Contact, queue_measures
from centralita.routing.engine import Load
from centralita.routing.models import AgentProfile, Assignment, Queue
from centralita.routing.service import SERVING_ROLES
from centralita.tickets.models import Ticket, TicketStatus

INTERVAL = timedelta(minutes=15)
INTERVALS_PER_DAY = 96
BREACH_HORIZON = timedelta(hours=1)
WAITING_SHOWN = 50
TICKETS_SHOWN = 20
FINISHED_TICKETS = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
State = InteractionState


# The few columns the measures read: selected as rows, not loaded as ORM objects (the wallboard
# reads a day's work on every refresh).
FACTS = (
    Interaction.queue,
    Interaction.state,
    Interaction.agent_user_id,
    Interaction.queued_at,
    Interaction.answered_at,
    Interaction.ended_at,
    Interaction.wrap_up_ended_at,
)


def handle_seconds(interaction: Any, now: datetime) -> float | None:
    """Answer to the end of wrap-up (KPI.md's handle), counting work still in hand up to now."""
    if interaction.answered_at is None:
        return None
    finished = interaction.wrap_up_ended_at or interaction.ended_at
    if finished is None and interaction.state in (State.ENDED, State.ABANDONED):
        return None
    handle: timedelta = (finished or now) - interaction.answered_at
    return handle.total_seconds()


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class AgentRow:
    user_id: uuid.UUID
    name: str
    presence: str
    reason: str | None
    since: datetime
    work: list[Interaction] = field(default_factory=list)
    # Work held against capacity, per kind of work in hand ("chat", 1, 3): spans every company
    # the agent serves, while ``work`` lists this company's only.
    loads: list[tuple[str, int, int]] = field(default_factory=list)
    handled_today: int = 0
    aht_seconds: float | None = None


async def queue_handle_times(
    session: AsyncSession, since: datetime, now: datetime
) -> dict[str, float | None]:
    """AHT today per queue name, over the work finished since ``since``."""
    rows = await session.execute(
        select(*FACTS).where(
            Interaction.answered_at >= since,
            Interaction.queue.is_not(None),
            Interaction.state == State.ENDED,
        )
    )
    by_queue: dict[str, list[float]] = defaultdict(list)
    for interaction in rows:
        seconds = handle_seconds(interaction, now)
        if seconds is not None:
            by_queue[interaction.queue or ""].append(seconds)
    return {name: _mean(values) for name, values in by_queue.items()}


async def agent_rows(session: AsyncSession, since: datetime, now: datetime) -> list[AgentRow]:
    """Every agent serving the tenant: state and time in it, work in hand, today's handling."""
    # One query for people and profiles: the wallboard needs no skills (routing's list_agents).
    people = await session.execute(
        select(User.id, User.display_name, AgentProfile)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(AgentProfile, AgentProfile.user_id == User.id)
        .where(Membership.role.in_(SERVING_ROLES), User.is_active)
    )
    rows: dict[uuid.UUID, AgentRow] = {}
    for user_id, name, profile in people.all():
        row = AgentRow(user_id=user_id, name=name, presence="offline", reason=None, since=now)
        if profile is not None:
            row.presence, row.reason = profile.presence, profile.presence_reason
            row.since = profile.presence_changed_at
            row.loads = [
                (load.value, held, getattr(profile, f"capacity_{load}"))
                for load in Load
                if (held := getattr(profile, f"load_{load}"))
            ]
        rows[user_id] = row
    held = await session.execute(
        select(Interaction)
        .join(Assignment, Assignment.interaction_id == Interaction.id)
        .where(Assignment.released_at.is_(None))
        .order_by(Assignment.offered_at)
    )
    for interaction in held.scalars():
        holder = rows.get(interaction.agent_user_id) if interaction.agent_user_id else None
        if holder is not None:
            holder.work.append(interaction)
    handled = await session.execute(
        select(*FACTS).where(
            Interaction.answered_at >= since, Interaction.agent_user_id.in_(list(rows))
        )
    )
    times: dict[uuid.UUID, list[float]] = defaultdict(list)
    for fact in handled:
        assert fact.agent_user_id is not None
        rows[fact.agent_user_id].handled_today += 1
        seconds = handle_seconds(fact, now)
        if seconds is not None and fact.state == State.ENDED:
            times[fact.agent_user_id].append(seconds)
    for user_id, values in times.items():
        rows[user_id].aht_seconds = _mean(values)
    order = {"available": 0, "wrap_up": 1, "away": 2, "offline": 3}
    return sorted(rows.values(), key=lambda r: (not r.work, order.get(r.presence, 9), r.name))


@dataclass(frozen=True)
class WaitingWork:
    interaction: Interaction
    customer_name: str


async def waiting_work(session: AsyncSession) -> list[WaitingWork]:
    rows = await session.execute(
        select(Interaction, Customer.display_name)
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(Interaction.state == State.QUEUED)
        .order_by(Interaction.priority.desc(), Interaction.queued_at)
        .limit(WAITING_SHOWN)
    )
    return [WaitingWork(interaction, name) for interaction, name in rows.all()]


async def tickets_breaching(session: AsyncSession, now: datetime) -> list[Ticket]:
    """Unfinished tickets whose next SLA target falls due within the hour (or already has)."""
    rows = await session.execute(
        select(Ticket)
        .where(
            Ticket.status.not_in(FINISHED_TICKETS),
            Ticket.merged_into_id.is_(None),
            Ticket.sla_due_at.is_not(None),
            Ticket.sla_due_at <= now + BREACH_HORIZON,
        )
        .order_by(Ticket.sla_due_at)
        .limit(TICKETS_SHOWN)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class Interval:
    volume: int
    service_level: float | None


def _intervals(
    interactions: list[Any], start: datetime, thresholds: dict[str, float]
) -> list[Interval]:
    buckets: list[dict[str, list[Contact]]] = [defaultdict(list) for _ in range(INTERVALS_PER_DAY)]
    for interaction in interactions:
        assert interaction.queued_at is not None
        index = int((interaction.queued_at - start) / INTERVAL)
        if not 0 <= index < INTERVALS_PER_DAY:
            continue
        abandoned = interaction.ended_at if interaction.state == State.ABANDONED else None
        contact = Contact(interaction.queued_at, interaction.answered_at, abandoned)
        buckets[index][interaction.queue or ""].append(contact)
    result = []
    for bucket in buckets:
        volume = within = counted = 0
        for name, contacts in bucket.items():
            measures = queue_measures(contacts, thresholds.get(name, 20.0))
            volume += measures.offered
            within += measures.answered_within_threshold
            counted += measures.answered + measures.abandoned - measures.short_abandoned
        result.append(Interval(volume, within / counted if counted else None))
    return result


@dataclass(frozen=True)
class DayCurves:
    today: list[Interval]
    last_week: list[Interval]
    target: float | None


async def day_curves(session: AsyncSession, day_start: datetime, queue: Queue | None) -> DayCurves:
    """Volume and service level per 15 minutes, today and on the same weekday a week before."""
    queues = list((await session.execute(select(Queue))).scalars())
    thresholds = {q.name: float(q.sl_threshold_seconds) for q in queues}
    week_before = day_start - timedelta(days=7)
    query = select(*FACTS).where(
        Interaction.queued_at.is_not(None),
        (
            (Interaction.queued_at >= day_start)
            & (Interaction.queued_at < day_start + timedelta(days=1))
        )
        | (
            (Interaction.queued_at >= week_before)
            & (Interaction.queued_at < week_before + timedelta(days=1))
        ),
    )
    if queue is not None:
        query = query.where(Interaction.queue == queue.name)
    found = list(await session.execute(query))
    today = [i for i in found if i.queued_at and i.queued_at >= day_start]
    before = [i for i in found if i.queued_at and i.queued_at < day_start]
    targets = [q.sl_target_percent for q in ([queue] if queue else queues)]
    return DayCurves(
        today=_intervals(today, day_start, thresholds),
        last_week=_intervals(before, week_before, thresholds),
        target=sum(targets) / len(targets) / 100 if targets else None,
    )
