"""The durable side of events: a tenant's domain events are written to ``event_log`` on commit.

Pub/sub (``bus.py``) feeds live screens and may drop events; webhooks and rules must not. So as a
session flushes and commits, each of its pending events of a :data:`RECORDED_TYPES` type becomes
an ``event_log`` row plus one job per consumer, in that same transaction: the event is acted on
exactly when its change is committed (a rolled-back savepoint takes its rows and its events
away together), and a crash right after loses nothing.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session, SessionTransaction

from centralita.events.bus import PENDING_KEY, Event
from centralita.events.models import EventRecord
from centralita.jobs.models import Job, JobKind

RECORDED_KEY = "centralita.events.recorded"
CHAIN_KEY = "centralita.events.chain"
"""``session.info`` entries: ids of the events already written; the rules causing new ones."""

# What other systems and rules may react to. High-rate screen updates (queue statistics, offers,
# presence) stay on pub/sub only.
RECORDED_TYPES = frozenset(
    {
        "interaction.created",
        "interaction.assigned",
        "interaction.transferred",
        "interaction.completed",
        "interaction.abandoned",
        "ticket.created",
        "ticket.updated",
        "ticket.customer_replied",
        "ticket.merged",
        "ticket.sla_escalated",
        "ticket.sla_breached",
        "customer.created",
        "customer.updated",
        "customer.merged",
        "survey.answered",
        "callback.created",
        "callback.queued",
        "callback.attempted",
        "callback.completed",
        "callback.expired",
        "campaign.finished",
        "api_event.received",
        "schedule.fired",
    }
)

CONSUMERS = (JobKind.WEBHOOK_FANOUT, JobKind.AUTOMATION_EVENT)


def event_uuid(event: Event) -> uuid.UUID:
    """The event's id as a UUID (events made here carry UUIDv7 ids; others get a stable one)."""
    try:
        return uuid.UUID(event.id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"centralita:event:{event.id}")


@contextmanager
def caused_by(session: Session, chain: list[str]) -> Iterator[None]:
    """Events recorded inside are the consequences of the rules in ``chain`` (flush first)."""
    session.info[CHAIN_KEY] = chain
    try:
        yield
    finally:
        session.info.pop(CHAIN_KEY, None)


def _record_pending(session: Session) -> None:
    """Write the events emitted since the last flush, in the session's current tenant scope.

    Called on every flush as well as at commit, so each event is written under the scope that
    emitted it: a job worker's transaction serves many tenants one after the other, and on
    PostgreSQL row-level security accepts a row only for the transaction's current tenant.
    """
    pending: list[Event] = session.info.get(PENDING_KEY, [])
    if not pending:
        return
    recorded: set[str] = session.info.setdefault(RECORDED_KEY, set())
    chain: list[str] = session.info.get(CHAIN_KEY, [])
    rows: list[Any] = []
    for event in pending:
        if event.id in recorded or event.tenant is None or event.type not in RECORDED_TYPES:
            continue
        recorded.add(event.id)
        record_id = event_uuid(event)
        rows.append(
            EventRecord(
                tenant_id=event.tenant,
                id=record_id,
                type=event.type,
                data=event.data,
                at=event.at,
                caused_by=chain,
            )
        )
        rows.extend(Job(kind=kind, ref_id=record_id, due_at=event.at) for kind in CONSUMERS)
    session.add_all(rows)


@orm_event.listens_for(Session, "before_flush")
def _record_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    _record_pending(session)


@orm_event.listens_for(Session, "before_commit")
def _record_committed_events(session: Session) -> None:
    # Added here, the rows are flushed by the commit itself, inside the same transaction.
    _record_pending(session)


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_recorded(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(RECORDED_KEY, None)
