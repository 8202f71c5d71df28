"""The few ticket columns SLA rules read, named by table rather than imported.

sla sits below tickets (tickets imports sla, so sla cannot import tickets back), yet a policy names
ticket categories and teams, and a policy change needs the priority of each ticket it governs.
These table clauses are not ORM models, so the session's tenant scope does not filter them: every
query here names the tenant itself (row-level security still applies on PostgreSQL). The only
ticket columns sla writes are its own summary of a ticket's targets, ``sla_due_at`` and
``sla_breached`` (see :mod:`centralita.sla.urgency`).
"""

import uuid
from collections.abc import Collection

from sqlalchemy import Boolean, String, TableClause, Uuid, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import UTCDateTime

tickets = table(
    "tickets",
    column("tenant_id", Uuid()),
    column("id", Uuid()),
    column("priority", String()),
    column("sla_due_at", UTCDateTime()),
    column("sla_breached", Boolean()),
)
teams = table("teams", column("tenant_id", Uuid()), column("id", Uuid()))
categories = table("ticket_categories", column("tenant_id", Uuid()), column("id", Uuid()))


async def existing_ids(
    session: AsyncSession, rows: TableClause, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``ids`` are rows of ``rows`` (teams or categories) in the tenant."""
    if not ids:
        return set()
    query = select(rows.c.id).where(rows.c.tenant_id == tenant_id, rows.c.id.in_(list(ids)))
    return set((await session.execute(query)).scalars())
