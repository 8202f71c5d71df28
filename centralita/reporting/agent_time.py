"""Agents' time from their presence facts and the work they held: occupancy and utilisation.

KPI.md: occupancy = handling / (handling + available and idle), utilisation = handling / logged
in, handling counted once per wall-clock second however many chats run at once. Handling is the
union of the agent's accepted assignments (answer to release, wrap-up included) in one tenant,
while presence is the agent's own: for an agent shared between tenants, each tenant's figures set
its own work against all the agent's idle time.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Uuid, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import UTCDateTime, new_id
from centralita.db.queued_rows import insert_at_flush
from centralita.reporting.models import PresenceFact

OFFLINE = "offline"
AVAILABLE = "available"
# Named by table: routing builds on reporting.
_assignments = table(
    "assignments",
    column("tenant_id", Uuid()),
    column("agent_user_id", Uuid()),
    column("answered_at", UTCDateTime()),
    column("released_at", UTCDateTime()),
)

Span = tuple[datetime, datetime]


def record_presence_fact(
    session: AsyncSession, user_id: uuid.UUID, presence: str, at: datetime
) -> None:
    """The agent's presence from ``at`` on, written with the session's next flush."""
    row = {"id": new_id(), "user_id": user_id, "at": at, "presence": presence}
    insert_at_flush(session, PresenceFact, [row])


@dataclass(frozen=True)
class AgentTime:
    logged_in_seconds: float
    handling_seconds: float
    idle_seconds: float

    @property
    def occupancy(self) -> float | None:
        worked = self.handling_seconds + self.idle_seconds
        return self.handling_seconds / worked if worked else None

    @property
    def utilisation(self) -> float | None:
        return self.handling_seconds / self.logged_in_seconds if self.logged_in_seconds else None


def _union(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlap(spans: list[Span], others: list[Span]) -> float:
    total = 0.0
    for start, end in spans:
        for other_start, other_end in others:
            low, high = max(start, other_start), min(end, other_end)
            if low < high:
                total += (high - low).total_seconds()
    return total


def _length(spans: list[Span]) -> float:
    return sum((end - start).total_seconds() for start, end in spans)


async def _presence_spans(
    session: AsyncSession, agent_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[Span], list[Span]]:
    """(logged-in spans, available spans) of the agent within [start, end)."""
    before = await session.execute(
        select(PresenceFact.presence)
        .where(PresenceFact.user_id == agent_id, PresenceFact.at < start)
        .order_by(PresenceFact.at.desc())
        .limit(1)
    )
    state = before.scalar_one_or_none() or OFFLINE
    changes = await session.execute(
        select(PresenceFact.at, PresenceFact.presence)
        .where(PresenceFact.user_id == agent_id, PresenceFact.at >= start, PresenceFact.at < end)
        .order_by(PresenceFact.at)
    )
    logged_in: list[Span] = []
    available: list[Span] = []
    since = start
    for at, presence in [*changes.all(), (end, OFFLINE)]:
        if at > since:
            if state != OFFLINE:
                logged_in.append((since, at))
            if state == AVAILABLE:
                available.append((since, at))
        state, since = presence, max(since, at)
    return logged_in, available


async def agent_time(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    agent_id: uuid.UUID,
    start: datetime,
    end: datetime,
    now: datetime,
) -> AgentTime:
    """The agent's time in [start, end), handling counted for this tenant's work only."""
    logged_in, available = await _presence_spans(session, agent_id, start, min(end, now))
    held = await session.execute(
        select(_assignments.c.answered_at, _assignments.c.released_at).where(
            # A table clause is not filtered by the session's scope: the tenant is named here.
            _assignments.c.tenant_id == tenant_id,
            _assignments.c.agent_user_id == agent_id,
            _assignments.c.answered_at.is_not(None),
            _assignments.c.answered_at < end,
            (_assignments.c.released_at.is_(None)) | (_assignments.c.released_at > start),
        )
    )
    handling = _union(
        (max(answered, start), min(released or now, end, now))
        for answered, released in held.all()
        if max(answered, start) < min(released or now, end, now)
    )
    handled = _length(handling)
    idle = _length(available) - _overlap(_union(available), handling)
    return AgentTime(
        logged_in_seconds=_length(_union([*logged_in, *handling])),
        handling_seconds=handled,
        idle_seconds=max(0.0, idle),
    )
