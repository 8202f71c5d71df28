"""Live queue statistics for supervisors: waiting work, agents by state, service level, and the
estimated wait a new arrival faces.

Computed from the database, so any process of a deployment answers the same. The estimated wait
is ``(work ahead + 1) × AHT ÷ agents signed in``, where AHT is the mean handle time (answer to
end of wrap-up) of the queue's work today, ``DEFAULT_AHT_SECONDS`` until there is some.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.identity.models import Membership
from centralita.interactions.models import Interaction, InteractionState
from centralita.reporting.measures import Contact, queue_measures
from centralita.routing.calendar import is_open as calendar_is_open
from centralita.routing.calendar import next_opening, tenant_holidays
from centralita.routing.engine import Load, Presence
from centralita.routing.models import AgentProfile, Queue
from centralita.routing.schemas import AgentsByState, QueueAvailability, QueueStats, WindowStats
from centralita.routing.service import SERVING_ROLES
from centralita.tenancy.models import Tenant

State = InteractionState
RECENT = timedelta(minutes=30)
DEFAULT_AHT_SECONDS = 180.0


def estimated_wait(ahead: int, aht_seconds: float, agents: AgentsByState) -> float:
    return (ahead + 1) * aht_seconds / max(1, agents.available + agents.busy)


# When a piece of work was answered and when its handling (wrap-up included) finished.
Handling = tuple[datetime | None, datetime | None]
HANDLING_COLUMNS = (
    Interaction.answered_at,
    func.coalesce(Interaction.wrap_up_ended_at, Interaction.ended_at),
)


def _handling(interaction: Interaction) -> Handling:
    return interaction.answered_at, interaction.wrap_up_ended_at or interaction.ended_at


def average_handle_time(handlings: Iterable[Handling]) -> float:
    handled = [
        (finished - answered).total_seconds()
        for answered, finished in handlings
        if answered is not None and finished is not None
    ]
    return sum(handled) / len(handled) if handled else DEFAULT_AHT_SECONDS


def start_of_day(tenant: Tenant, now: datetime) -> datetime:
    zone = ZoneInfo(tenant.time_zone)
    return datetime.combine(now.astimezone(zone).date(), time.min, zone)


def _queued_at(interaction: Interaction) -> datetime:
    # Only work that entered a queue is selected for statistics.
    assert interaction.queued_at is not None
    return interaction.queued_at


def _contact(interaction: Interaction) -> Contact:
    abandoned = interaction.ended_at if interaction.state == State.ABANDONED else None
    return Contact(_queued_at(interaction), interaction.answered_at, abandoned)


def _window(contacts: list[Contact], threshold: float) -> WindowStats:
    measures = queue_measures(contacts, threshold)
    return WindowStats.model_validate(measures, from_attributes=True)


async def agents_by_state(session: AsyncSession) -> AgentsByState:
    """The scoped tenant's serving agents by presence; an available agent holding work is busy."""
    loads = [getattr(AgentProfile, f"load_{load}") for load in Load]
    # One round trip: a serving member without a profile has never signed in (offline).
    serving = (
        select(Membership.user_id, AgentProfile.presence, *loads)
        .outerjoin(AgentProfile, AgentProfile.user_id == Membership.user_id)
        .where(Membership.role.in_(SERVING_ROLES))
    )
    counts: Counter[str] = Counter()
    for _user_id, state, *held in await session.execute(serving):
        if state is None:
            counts[Presence.OFFLINE] += 1
        else:
            counts["busy" if state == Presence.AVAILABLE and any(held) else state] += 1
    return AgentsByState.model_validate(dict(counts))


async def queue_statistics(session: AsyncSession, tenant: Tenant) -> list[QueueStats]:
    """One row per queue of the scoped tenant: now, the last 30 minutes, and today."""
    now = utcnow()
    today = start_of_day(tenant, now)
    since = min(today, now - RECENT)
    queues = list((await session.execute(select(Queue).order_by(Queue.name))).scalars())
    waiting_rows = await session.execute(
        select(Interaction.queue, func.count(), func.min(Interaction.queued_at))
        .where(Interaction.state == State.QUEUED)
        .group_by(Interaction.queue)
    )
    waiting = {name: (count, oldest) for name, count, oldest in waiting_rows.all()}
    recent_rows = await session.execute(
        select(Interaction).where(Interaction.queued_at >= since, Interaction.queue.is_not(None))
    )
    contacts: dict[str, list[Interaction]] = defaultdict(list)
    for interaction in recent_rows.scalars():
        contacts[interaction.queue or ""].append(interaction)
    agents = await agents_by_state(session)
    rows = []
    for queue in queues:
        count, oldest = waiting.get(queue.name, (0, None))
        facts = contacts.get(queue.name, [])
        threshold = float(queue.sl_threshold_seconds)
        recent = [_contact(i) for i in facts if _queued_at(i) >= now - RECENT]
        of_today = [i for i in facts if _queued_at(i) >= today]
        rows.append(
            QueueStats(
                queue_id=queue.id,
                name=queue.name,
                sl_target_percent=queue.sl_target_percent,
                sl_threshold_seconds=queue.sl_threshold_seconds,
                waiting=count,
                longest_wait_seconds=(now - oldest).total_seconds() if oldest else 0.0,
                estimated_wait_seconds=estimated_wait(
                    count, average_handle_time(map(_handling, of_today)), agents
                ),
                agents=agents,
                last_30_minutes=_window(recent, threshold),
                today=_window([_contact(i) for i in of_today], threshold),
            )
        )
    return rows


async def position_in_queue(
    session: AsyncSession, interaction: Interaction
) -> tuple[int, float | None]:
    """Where waiting work stands in its queue (1 is next) and how long it may still wait.

    Counts the work ahead by priority, then arrival: the engine's finer order (SLA deadline,
    customer value) can move it a little either way.
    """
    if interaction.state != State.QUEUED or interaction.queued_at is None:
        return 0, None
    ahead = await session.execute(
        select(func.count()).where(
            Interaction.state == State.QUEUED,
            Interaction.queue == interaction.queue,
            (Interaction.priority > interaction.priority)
            | (
                (Interaction.priority == interaction.priority)
                & (Interaction.queued_at < interaction.queued_at)
            ),
        )
    )
    count = ahead.scalar_one()
    # Only the two times each: loading whole rows of a busy queue's day costs more than the rest.
    today = await session.execute(
        select(*HANDLING_COLUMNS).where(
            Interaction.queue == interaction.queue,
            Interaction.answered_at >= utcnow() - timedelta(days=1),
        )
    )
    aht = average_handle_time(today.all())
    return count + 1, estimated_wait(count, aht, await agents_by_state(session))


async def availability(session: AsyncSession, tenant: Tenant, queue: Queue) -> QueueAvailability:
    """What a customer about to wait in this queue is told: open or not, how long, and whether a
    callback is offered instead (closed, or the estimated wait above the queue's threshold)."""
    now = utcnow()
    holidays = tenant_holidays(tenant)
    is_open = calendar_is_open(queue, tenant.time_zone, now, holidays)
    waiting = await session.execute(
        select(func.count()).where(
            Interaction.state == State.QUEUED, Interaction.queue == queue.name
        )
    )
    today = await session.execute(
        select(*HANDLING_COLUMNS).where(
            Interaction.queue == queue.name, Interaction.answered_at >= start_of_day(tenant, now)
        )
    )
    wait = estimated_wait(
        waiting.scalar_one(),
        average_handle_time(today.all()),
        await agents_by_state(session),
    )
    threshold = queue.callback_threshold_seconds
    return QueueAvailability(
        queue_id=queue.id,
        open=is_open,
        next_opening=None if is_open else next_opening(queue, tenant.time_zone, now, holidays),
        estimated_wait_seconds=wait if is_open else None,
        offer_callback=not is_open or (threshold is not None and wait > threshold),
    )
