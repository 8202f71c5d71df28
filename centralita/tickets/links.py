"""How tickets relate: a duplicate merged into its survivor, related links, parents and children,
and major incidents whose one public update reaches every affected customer."""

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.errors import Conflict, FieldError, InvalidInput, NotFound
from centralita.interactions.models import Interaction
from centralita.interactions.service import announce_change
from centralita.sla.service import SlaEvent
from centralita.tickets.catalog import refuse_invalid
from centralita.tickets.desk import Desk
from centralita.tickets.effects import OPEN_WORK, announce, track
from centralita.tickets.lifecycle import (
    add_message,
    audit,
    file_conversation,
    get_ticket,
    lock_tickets,
    locked_conversation,
    move_status,
    refuse_closed,
)
from centralita.tickets.messages import reply_publicly
from centralita.tickets.models import (
    MessageKind,
    Ticket,
    TicketFollower,
    TicketLink,
    TicketMessage,
    TicketStatus,
)
from centralita.tickets.schemas import MajorUpdateIn
from centralita.tickets.service import followers_of, parent_error, related_tickets


def _refuse_merged(desk: Desk, ticket: Ticket) -> None:
    if ticket.merged_into_id is not None:
        raise Conflict(
            f"Ticket {desk.reference(ticket)} was already merged into {ticket.merged_into_id}",
            "ticket-merged",
        )


async def merge_tickets(
    session: AsyncSession, desk: Desk, survivor_id: uuid.UUID, source_id: uuid.UUID
) -> Ticket:
    """Fold the duplicate ``source_id`` into the survivor: its messages, followers and work move,
    it is closed pointing at the survivor, and both histories say so."""
    pair = await lock_tickets(session, (survivor_id, source_id))
    if survivor_id not in pair:
        raise NotFound("Ticket not found")
    if survivor_id == source_id:
        raise InvalidInput.on_field("body.source_id", "A ticket cannot be merged into itself")
    if source_id not in pair:
        raise InvalidInput.on_field("body.source_id", "No such ticket")
    survivor, source = pair[survivor_id], pair[source_id]
    for ticket in (survivor, source):
        _refuse_merged(desk, ticket)
        refuse_closed(desk, ticket)
    now = utcnow()
    moved_messages = await session.execute(
        update(TicketMessage)
        .where(TicketMessage.ticket_id == source.id)
        .values(ticket_id=survivor.id)
        .execution_options(synchronize_session="fetch")
    )
    # The source's work now serves the survivor, whose SLA deadline routing must read instead.
    work = await session.execute(select(Interaction).where(Interaction.ticket_id == source.id))
    for interaction in work.scalars():
        interaction.ticket_id = survivor.id
        if interaction.state in OPEN_WORK:
            announce_change(session, interaction)
    followers = set(await followers_of(session, survivor.id))
    moved_followers = [f for f in await followers_of(session, source.id) if f not in followers]
    await session.execute(delete(TicketFollower).where(TicketFollower.ticket_id == source.id))
    session.add_all(TicketFollower(ticket_id=survivor.id, user_id=f) for f in moved_followers)
    source_status = source.status
    move_status(source, TicketStatus.CLOSED, now)
    source.merged_into_id = survivor.id
    source.updated_at = now
    add_message(
        session,
        source,
        MessageKind.SYSTEM,
        desk.note("merged_away", survivor=desk.reference(survivor)),
        now,
    )
    add_message(
        session,
        survivor,
        MessageKind.SYSTEM,
        desk.note("merged_in", source=desk.reference(source)),
        now,
    )
    audit(
        session,
        desk,
        source,
        "ticket.merged",
        {"status": source_status, "merged_into_id": None},
        {"status": TicketStatus.CLOSED, "merged_into_id": survivor.id},
    )
    audit(
        session,
        desk,
        survivor,
        "ticket.merge_absorbed",
        None,
        {
            "source_id": source.id,
            "source": desk.reference(source),
            "moved_messages": getattr(moved_messages, "rowcount", 0),
            "moved_followers": moved_followers,
        },
    )
    await track(session, desk, source, now, SlaEvent.MERGED)
    announce(session, desk, "ticket.merged", source, merged_into_id=survivor.id)
    await session.flush()
    return survivor


def _ordered(one: uuid.UUID, other: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """A link is stored once, smaller id first (a check constraint insists)."""
    first, second = sorted((one, other))
    return first, second


async def link_tickets(
    session: AsyncSession, desk: Desk, ticket_id: uuid.UUID, other_id: uuid.UUID
) -> list[Ticket]:
    """Relate two tickets (both ways); the ticket's related tickets after it."""
    ticket = await get_ticket(session, ticket_id)
    if other_id == ticket.id:
        raise InvalidInput.on_field("body.other_id", "A ticket cannot be linked to itself")
    other = (
        await session.execute(select(Ticket).where(Ticket.id == other_id))
    ).scalar_one_or_none()
    if other is None:
        raise InvalidInput.on_field("body.other_id", "No such ticket")
    first, second = _ordered(ticket.id, other.id)
    if await session.get(TicketLink, (ticket.tenant_id, first, second)) is None:
        session.add(TicketLink(ticket_id=first, other_id=second))
        for one, another in ((ticket, other), (other, ticket)):
            audit(session, desk, one, "ticket.linked", None, {"other_id": another.id})
        await session.flush()
    return await related_tickets(session, ticket.id)


async def unlink_tickets(
    session: AsyncSession, desk: Desk, ticket_id: uuid.UUID, other_id: uuid.UUID
) -> None:
    ticket = await get_ticket(session, ticket_id)
    first, second = _ordered(ticket.id, other_id)
    link = await session.get(TicketLink, (ticket.tenant_id, first, second))
    if link is None:
        raise NotFound("The tickets are not linked")
    await session.delete(link)
    other = await get_ticket(session, other_id)
    for one, another in ((ticket, other), (other, ticket)):
        audit(session, desk, one, "ticket.unlinked", {"other_id": another.id}, None)
    await session.flush()


async def adopt_children(
    session: AsyncSession, desk: Desk, parent_id: uuid.UUID, child_ids: list[uuid.UUID]
) -> list[Ticket]:
    """Make tickets children of the parent (e.g. reports of one major incident from many
    customers); a loop is refused. The parent's children after it."""
    parent = await get_ticket(session, parent_id, for_update=True)
    children = await lock_tickets(session, child_ids)
    errors: list[FieldError] = []
    for index, child_id in enumerate(child_ids):
        field = f"body.ticket_ids.{index}"
        if child_id not in children:
            errors.append(FieldError(field, "No such ticket"))
        elif (error := await parent_error(session, child_id, parent.id, field)) is not None:
            errors.append(error)
    refuse_invalid(errors)
    for child in children.values():
        if child.parent_id != parent.id:
            audit(
                session,
                desk,
                child,
                "ticket.updated",
                {"parent_id": child.parent_id},
                {"parent_id": parent.id},
            )
            child.parent_id = parent.id
    await session.flush()
    query = select(Ticket).where(Ticket.parent_id == parent.id).order_by(Ticket.number)
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class MajorUpdate:
    message: TicketMessage
    updated: list[Ticket]


async def post_major_update(
    session: AsyncSession, desk: Desk, ticket_id: uuid.UUID, data: MajorUpdateIn
) -> MajorUpdate:
    """One public update on a major incident, repeated in each of its children that is not
    closed; every requester hears of it (``ticket.updated_publicly``)."""
    parent = await get_ticket(session, ticket_id, for_update=True)
    refuse_closed(desk, parent)
    if not parent.is_major:
        raise Conflict(
            f"Ticket {desk.reference(parent)} is not a major incident; mark it is_major first",
            "not-major-incident",
        )
    now = utcnow()
    message = await reply_publicly(session, desk, parent, data.text, data.html, now)
    query = (
        select(Ticket)
        .where(Ticket.parent_id == parent.id, Ticket.status != TicketStatus.CLOSED)
        .order_by(Ticket.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    children = list((await session.execute(query)).scalars())
    for child in children:
        await reply_publicly(session, desk, child, data.text, data.html, now)
    await session.flush()
    return MajorUpdate(message, [parent, *children])


async def attach_conversation(
    session: AsyncSession, desk: Desk, ticket_id: uuid.UUID, interaction_id: uuid.UUID
) -> Ticket:
    """File a conversation under a ticket, taking it from the ticket it was under before."""
    ticket = await get_ticket(session, ticket_id, for_update=True)
    _refuse_merged(desk, ticket)
    refuse_closed(desk, ticket)
    interaction = await locked_conversation(session, interaction_id)
    if interaction is None:
        raise InvalidInput.on_field("body.interaction_id", "No such conversation")
    await file_conversation(session, desk, ticket, interaction)
    await session.flush()
    return ticket
