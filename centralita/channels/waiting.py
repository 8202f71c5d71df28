"""What a customer about to wait is told on any channel: open or not, how long, or to leave word."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.routing import stats
from centralita.routing.calendar import is_open as calendar_is_open
from centralita.routing.calendar import tenant_holidays
from centralita.routing.models import Queue
from centralita.tenancy.models import Tenant


@dataclass(frozen=True)
class Availability:
    open: bool
    estimated_wait_seconds: float | None
    # Closed, or the wait is above the queue's callback threshold: offer a callback or a message.
    offer_alternative: bool
    queue: Queue | None


async def queue_named(session: AsyncSession, name: str | None) -> Queue | None:
    """The queue of this name, or the tenant's default queue when no name is given."""
    query = select(Queue)
    query = query.where(Queue.name == name) if name else query.where(Queue.is_default.is_(True))
    return (await session.execute(query.limit(1))).scalars().first()


async def availability(
    session: AsyncSession, tenant: Tenant, queue_name: str | None
) -> Availability:
    queue = await queue_named(session, queue_name)
    if queue is None:  # nothing configured: work waits in no named queue, always open
        return Availability(True, None, False, None)
    seen = await stats.availability(session, tenant, queue)
    return Availability(seen.open, seen.estimated_wait_seconds, seen.offer_callback, queue)


async def is_open(session: AsyncSession, tenant: Tenant, queue_name: str | None) -> bool:
    """Whether the queue takes work now: :func:`availability` without the estimated wait, for a
    greeting that says nothing of how long (the queue's waiting work and agents are not read)."""
    queue = await queue_named(session, queue_name)
    if queue is None:
        return True
    return calendar_is_open(queue, tenant.time_zone, utcnow(), tenant_holidays(tenant))
