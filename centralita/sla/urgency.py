"""A ticket's SLA summary, kept on the ticket row so that search can sort and filter on it.

``tickets.sla_due_at`` is the nearest deadline still to meet (what :func:`earliest_due` means:
a counting target's, or a breached one's not yet achieved; none while every target is paused or
finished) and ``tickets.sla_breached`` whether any target of the ticket ever breached (a breach
stands once achieved or cancelled). Every writer of targets calls :func:`refresh_ticket_urgency`
(or, in bulk, :func:`refresh_urgency_on`) for the tickets it touched, in the same transaction,
after its changes to the targets.
"""

import uuid
from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import Table, Update, and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from centralita.sla.models import SlaTarget, TargetStatus
from centralita.sla.ticket_tables import tickets

_targets = cast(Table, SlaTarget.__table__)
# Counting toward the ticket's urgency: as :func:`centralita.sla.service.earliest_due` reads it.
URGENT = (TargetStatus.ACTIVE, TargetStatus.BREACHED)


def _urgency_update(tenant_id: uuid.UUID, ticket_ids: Collection[uuid.UUID]) -> Update:
    """``UPDATE tickets SET sla_due_at = (min), sla_breached = EXISTS (...)`` for these tickets."""
    of_ticket = and_(
        _targets.c.tenant_id == tickets.c.tenant_id, _targets.c.ticket_id == tickets.c.id
    )
    due = (
        select(func.min(_targets.c.due_at))
        .where(of_ticket, _targets.c.status.in_(URGENT), _targets.c.achieved_at.is_(None))
        .scalar_subquery()
    )
    breached = exists().where(of_ticket, _targets.c.breached_at.is_not(None))
    return (
        update(tickets)
        .where(tickets.c.tenant_id == tenant_id, tickets.c.id.in_(list(ticket_ids)))
        .values(sla_due_at=due, sla_breached=breached)
    )


async def refresh_ticket_urgency(
    session: AsyncSession, tenant_id: uuid.UUID, ticket_ids: Collection[uuid.UUID]
) -> None:
    """Set ``sla_due_at`` and ``sla_breached`` of these tickets from their targets as they now are.

    Flushes first (the targets' pending changes must be in the database); tickets loaded in the
    session get the new values too, without being marked changed.
    """
    if not ticket_ids:
        return
    await session.flush()
    statement = _urgency_update(tenant_id, ticket_ids).returning(
        tickets.c.id, tickets.c.sla_due_at, tickets.c.sla_breached
    )
    rows = (await session.execute(statement)).all()
    new = {row.id: row for row in rows}
    loaded: Any
    for loaded in list(session.identity_map.values()):
        if _is_ticket(loaded) and loaded.tenant_id == tenant_id and loaded.id in new:
            row = new[loaded.id]
            set_committed_value(loaded, "sla_due_at", row.sla_due_at)
            set_committed_value(loaded, "sla_breached", row.sla_breached)


async def refresh_urgency_on(
    connection: AsyncConnection, tenant_id: uuid.UUID, ticket_ids: Collection[uuid.UUID]
) -> None:
    """:func:`refresh_ticket_urgency` for bulk work on plain rows; loaded tickets keep theirs."""
    if ticket_ids:
        await connection.execute(_urgency_update(tenant_id, ticket_ids))


def _is_ticket(loaded: Any) -> bool:
    table = getattr(type(loaded), "__table__", None)
    return getattr(table, "name", None) == tickets.name
