"""Fact rows for one interaction's move between states, built where the move is stamped.

``interactions`` records the :func:`transition_facts` of a change with :func:`record_facts`, in
the same transaction as the change, so a fact exists exactly when the change committed. Facts
are plain rows, written by the flush that writes the change (``db.queued_rows``): no ORM object
per fact. This module knows interactions only by the attributes it reads (``TrackedWork``):
reporting sits below the domains that write facts.

Survey answers and SLA outcomes join as further ``FactKind`` values written by their own domains
through :func:`fact`.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from centralita.db.base import new_id
from centralita.db.queued_rows import insert_at_flush
from centralita.reporting.models import NO_QUEUE, FactKind, InteractionFact


class TrackedWork(Protocol):
    """What a fact needs to know about an interaction, already stamped with its new state."""

    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def channel(self) -> str: ...
    @property
    def queue(self) -> str | None: ...
    @property
    def topic(self) -> str | None: ...
    @property
    def customer_id(self) -> uuid.UUID: ...
    @property
    def agent_user_id(self) -> uuid.UUID | None: ...
    @property
    def queued_at(self) -> datetime | None: ...
    @property
    def answered_at(self) -> datetime | None: ...


class FactRow(TypedDict):
    """One ``reporting_facts`` row, every column given."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    interaction_id: uuid.UUID
    kind: FactKind
    at: datetime
    anchor_at: datetime
    queue: str
    channel: str
    agent_user_id: uuid.UUID | None
    customer_id: uuid.UUID
    topic: str | None
    seconds: float | None
    folded: bool
    created_at: datetime
    updated_at: datetime


def _seconds(start: datetime | None, end: datetime) -> float | None:
    return (end - start).total_seconds() if start is not None else None


def fact(
    work: TrackedWork,
    kind: FactKind,
    at: datetime,
    seconds: float | None = None,
    agent_user_id: uuid.UUID | None = None,
) -> FactRow:
    return {
        "tenant_id": work.tenant_id,
        "id": new_id(),
        "interaction_id": work.id,
        "kind": kind,
        "at": at,
        "anchor_at": work.queued_at or work.answered_at or at,
        "queue": work.queue or NO_QUEUE,
        "channel": str(work.channel),
        "agent_user_id": agent_user_id or work.agent_user_id,
        "customer_id": work.customer_id,
        "topic": work.topic,
        "seconds": seconds,
        "folded": False,
        "created_at": at,
        "updated_at": at,
    }


def record_facts(session: AsyncSession | Session, facts: Iterable[FactRow]) -> None:
    """Write ``facts`` with the session's next flush, in its transaction."""
    insert_at_flush(session, InteractionFact, facts)


def transition_facts(
    work: TrackedWork,
    source: str | None,
    target: str,
    now: datetime,
    previous_agent: uuid.UUID | None = None,
) -> list[FactRow]:
    """The facts of a move from ``source`` (None for new work) to ``target`` at ``now``.

    States are compared by value, so this holds for ``InteractionState`` without importing it.
    """
    facts: list[FactRow] = []
    if target == "queued" and source in (None, "queued", "offered") and work.queued_at == now:
        facts.append(fact(work, FactKind.OFFERED, now))
    elif target == "queued" and source == "active":
        facts.append(fact(work, FactKind.TRANSFERRED, now, agent_user_id=previous_agent))
    elif target == "active" and work.answered_at == now:
        facts.append(fact(work, FactKind.ANSWERED, now, _seconds(work.queued_at, now)))
    elif target == "abandoned":
        facts.append(fact(work, FactKind.ABANDONED, now, _seconds(work.queued_at, now)))
    elif target == "wrap_up":
        facts.append(fact(work, FactKind.ENDED, now))
    elif target == "ended":
        if source == "active":
            facts.append(fact(work, FactKind.ENDED, now))
        if source in ("active", "wrap_up") and work.answered_at is not None:
            facts.append(fact(work, FactKind.HANDLED, now, _seconds(work.answered_at, now)))
    return facts
