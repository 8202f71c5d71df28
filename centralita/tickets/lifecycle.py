"""Finding and locking tickets, moving them between statuses, and writing their history."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import new_id
from centralita.errors import Conflict, NotFound
from centralita.events.service import record_audit
from centralita.interactions.models import Interaction
from centralita.interactions.service import announce_change, sanitise_html
from centralita.sla.service import SlaEvent
from centralita.tickets.desk import Desk
from centralita.tickets.effects import OPEN_WORK, announce, track
from centralita.tickets.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    MessageKind,
    Ticket,
    TicketMessage,
    TicketStatus,
)

# Fields an SLA policy looks at: changing one re-evaluates the ticket's clock.
SLA_FIELDS = frozenset({"priority", "type", "category_id", "status"})


def audit(
    session: AsyncSession,
    desk: Desk,
    ticket: Ticket,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """One entry of the ticket's history."""
    record_audit(
        session, ticket.tenant_id, desk.actor, action, ("ticket", ticket.id), before, after
    )


async def get_ticket(
    session: AsyncSession, ticket_id: uuid.UUID, *, for_update: bool = False
) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        # Read afresh under the lock: what another transaction committed meanwhile counts.
        query = query.with_for_update().execution_options(populate_existing=True)
    ticket = (await session.execute(query)).scalar_one_or_none()
    if ticket is None:
        raise NotFound("Ticket not found")
    return ticket


async def lock_tickets(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Ticket]:
    """The tickets among ``ids`` that exist, locked in id order so that two requests locking
    overlapping sets cannot deadlock."""
    query = (
        select(Ticket)
        .where(Ticket.id.in_(set(ids)))
        .order_by(Ticket.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {ticket.id: ticket for ticket in (await session.execute(query)).scalars()}


async def locked_conversation(
    session: AsyncSession, interaction_id: uuid.UUID
) -> Interaction | None:
    """The conversation, locked, if the scoped tenant has it."""
    query = select(Interaction).where(Interaction.id == interaction_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def file_conversation(
    session: AsyncSession, desk: Desk, ticket: Ticket, interaction: Interaction
) -> None:
    """Make a conversation part of a ticket (an agent files a chat or a call under the case it
    is about); it leaves the ticket it belonged to before, and both histories say so."""
    if interaction.ticket_id == ticket.id:
        return
    earlier = interaction.ticket_id
    interaction.ticket_id = ticket.id
    if earlier is not None:
        previous = await get_ticket(session, earlier)
        detached = {"interaction_id": interaction.id}
        audit(session, desk, previous, "ticket.conversation_detached", detached, None)
    audit(
        session,
        desk,
        ticket,
        "ticket.conversation_attached",
        {"ticket_id": earlier},
        {"interaction_id": interaction.id},
    )
    if interaction.state in OPEN_WORK:
        # Routing reads the ticket's SLA deadline for work that is still open.
        announce_change(session, interaction)
    announce(session, desk, "ticket.conversation_attached", ticket, interaction_id=interaction.id)


def refuse_closed(desk: Desk, ticket: Ticket) -> None:
    if ticket.status == TicketStatus.CLOSED:
        merged = f", merged into {ticket.merged_into_id}" if ticket.merged_into_id else ""
        raise Conflict(f"Ticket {desk.reference(ticket)} is closed{merged}", "ticket-closed")


def refuse_transition(ticket: Ticket, target: TicketStatus) -> None:
    source = TicketStatus(ticket.status)
    if target != source and target not in TRANSITIONS[source]:
        allowed = ", ".join(sorted(TRANSITIONS[source])) or "none (closed is final)"
        raise Conflict(
            f"A ticket cannot go from {source} to {target}; from {source} it may go to: {allowed}",
            "invalid-transition",
        )


def move_status(ticket: Ticket, target: TicketStatus, now: datetime) -> None:
    """Set the status and its timestamps; the caller checked the transition."""
    ticket.status = target
    ticket.status_changed_at = now
    if target == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif target == TicketStatus.CLOSED:
        ticket.closed_at = now
    elif ticket.resolved_at is not None:
        # Reopened: it is no longer resolved, and the reopen window starts again next time.
        ticket.resolved_at = None


def add_message(
    session: AsyncSession,
    ticket: Ticket,
    kind: MessageKind,
    text: str,
    now: datetime,
    *,
    html: str | None = None,
    author_user_id: uuid.UUID | None = None,
) -> TicketMessage:
    message = TicketMessage(
        tenant_id=ticket.tenant_id,
        id=new_id(),
        ticket_id=ticket.id,
        kind=kind,
        author_user_id=author_user_id,
        text=text,
        html=sanitise_html(html) if html is not None else None,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    ticket.updated_at = now
    return message


async def change_status(
    session: AsyncSession,
    desk: Desk,
    ticket: Ticket,
    target: TicketStatus,
    now: datetime,
    *,
    action: str = "ticket.updated",
    note: str | None = None,
) -> None:
    """Move a ticket on its own (not as part of a larger edit): checked, recorded, tracked, and
    a resolution carries its open children with it."""
    refuse_transition(ticket, target)
    source = ticket.status
    move_status(ticket, target, now)
    if note is not None:
        add_message(session, ticket, MessageKind.SYSTEM, note, now)
    audit(session, desk, ticket, action, {"status": source}, {"status": target})
    await after_status_change(session, desk, ticket, now)


async def after_status_change(
    session: AsyncSession, desk: Desk, ticket: Ticket, now: datetime
) -> None:
    await track(session, desk, ticket, now, SlaEvent.CHANGED)
    announce(session, desk, "ticket.updated", ticket)
    if ticket.status == TicketStatus.RESOLVED:
        await resolve_children(session, desk, ticket, now)


async def resolve_children(
    session: AsyncSession, desk: Desk, parent: Ticket, now: datetime
) -> None:
    """Resolve the parent's open children (and theirs), each with a note saying why."""
    query = (
        select(Ticket)
        .where(Ticket.parent_id == parent.id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    note = desk.note("resolved_with_parent", parent=desk.reference(parent))
    for child in list((await session.execute(query)).scalars()):
        await change_status(session, desk, child, TicketStatus.RESOLVED, now, note=note)
