"""The durable side of events: a tenant's domain events are written to ``event_log`` on commit.

Pub/sub (``bus.py``) feeds live screens and may drop events; webhooks and rules must not. So when
a session commits, each of its pending events of a :data:`RECORDED_TYPES` type becomes an
``event_log`` row plus one job per consumer, all in that same transaction: the event is acted on
exactly when its change is committed, and a crash right after loses nothing.
"""

import uuid
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from centralita.events.bus import PENDING_KEY, Event
from centralita.events.models import EventRecord
from centralita.jobs.models import Job, JobKind

CAUSES_KEY = "centralita.events.causes"
"""``session.info`` entry: event id → ids of the rules whose actions emitted that event."""

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
        "api_event.received",
    }
)

CONSUMERS = (JobKind.WEBHOOK_FANOUT, JobKind.AUTOMATION_EVENT)


def event_uuid(event: Event) -> uuid.UUID:
    """The event's id as a UUID (events made here carry UUIDv7 ids; others get a stable one)."""
    try:
        return uuid.UUID(event.id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"centralita:event:{event.id}")


def mark_caused_by(session: Session, events: list[Event], chain: list[str]) -> None:
    """Remember that ``events`` were emitted by the actions of the rules in ``chain``."""
    causes: dict[str, list[str]] = session.info.setdefault(CAUSES_KEY, {})
    for event in events:
        causes[event.id] = chain


def pending_events(session: Session) -> list[Event]:
    """The events emitted so far in the session's transaction (to tell which an action emitted)."""
    pending: list[Event] = session.info.get(PENDING_KEY, [])
    return pending


@orm_event.listens_for(Session, "before_commit")
def _record_committed_events(session: Session) -> None:
    if session.in_nested_transaction():
        return
    pending: list[Event] = session.info.get(PENDING_KEY, [])
    causes: dict[str, list[str]] = session.info.pop(CAUSES_KEY, {})
    rows: list[Any] = []
    for event in pending:
        if event.tenant is None or event.type not in RECORDED_TYPES:
            continue
        record_id = event_uuid(event)
        rows.append(
            EventRecord(
                tenant_id=event.tenant,
                id=record_id,
                type=event.type,
                data=event.data,
                at=event.at,
                caused_by=causes.get(event.id, []),
            )
        )
        rows.extend(Job(kind=kind, ref_id=record_id, due_at=event.at) for kind in CONSUMERS)
    # Added here, the rows are flushed by the commit itself, inside the same transaction.
    session.add_all(rows)
