"""The survey answers the desk and the wallboard show: a customer's latest CSAT/NPS, and today's
CSAT and NPS per queue and per agent.

The answers are read by table name rather than through ``centralita.surveys``: that package
imports the web package (its texts and the answer form), so the web package cannot import it
back. The table clause is not an ORM model, so the session's tenant scope does not filter it:
every query names the tenant itself (row-level security still applies on PostgreSQL). The
measures are KPI.md's, from :func:`centralita.reporting.measures.satisfaction`, the same function
the surveys API uses.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Boolean, SmallInteger, String, Text, Uuid, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import UTCDateTime
from centralita.reporting.measures import Satisfaction, satisfaction

responses = table(
    "survey_responses",
    column("tenant_id", Uuid()),
    column("id", Uuid()),
    column("customer_id", Uuid()),
    column("agent_id", Uuid()),
    column("queue", String()),
    column("channel", String()),
    column("csat", SmallInteger()),
    column("nps", SmallInteger()),
    column("comment", Text()),
    column("language", String()),
    column("low", Boolean()),
    column("created_at", UTCDateTime()),
)


@dataclass(frozen=True)
class LatestAnswer:
    """A customer's most recent CSAT or NPS answer, as the 360 panel shows it."""

    csat: int | None
    nps: int | None
    comment: str | None
    language: str
    channel: str
    low: bool
    answered_at: datetime


@dataclass(frozen=True)
class SatisfactionToday:
    """CSAT and NPS over today's answers, per queue name and per agent."""

    by_queue: dict[str, Satisfaction] = field(default_factory=dict)
    by_agent: dict[uuid.UUID, Satisfaction] = field(default_factory=dict)


async def latest_answer(
    session: AsyncSession, tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> LatestAnswer | None:
    """The customer's newest answer that scored CSAT or NPS (extra questions alone do not)."""
    c = responses.c
    query = (
        select(c.csat, c.nps, c.comment, c.language, c.channel, c.low, c.created_at)
        .where(
            c.tenant_id == tenant_id,
            c.customer_id == customer_id,
            (c.csat.is_not(None)) | (c.nps.is_not(None)),
        )
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(1)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return LatestAnswer(
        csat=row.csat,
        nps=row.nps,
        comment=row.comment,
        language=row.language,
        channel=row.channel,
        low=bool(row.low),
        answered_at=row.created_at,
    )


async def satisfaction_since(
    session: AsyncSession, tenant_id: uuid.UUID, since: datetime
) -> SatisfactionToday:
    """CSAT and NPS of the answers given since ``since``, per queue and per agent."""
    c = responses.c
    query = select(c.queue, c.agent_id, c.csat, c.nps).where(
        c.tenant_id == tenant_id, c.created_at >= since
    )
    per_queue: dict[str, list[tuple[int | None, int | None]]] = defaultdict(list)
    per_agent: dict[uuid.UUID, list[tuple[int | None, int | None]]] = defaultdict(list)
    for queue, agent_id, csat, nps in await session.execute(query):
        if queue is not None:
            per_queue[queue].append((csat, nps))
        if agent_id is not None:
            per_agent[agent_id].append((csat, nps))
    return SatisfactionToday(
        by_queue={name: satisfaction(pairs) for name, pairs in per_queue.items()},
        by_agent={agent: satisfaction(pairs) for agent, pairs in per_agent.items()},
    )
