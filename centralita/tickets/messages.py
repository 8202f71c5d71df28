"""Messages in a ticket: agents' public replies and internal notes, and what the customer writes.

A customer writing again reopens a resolved ticket within the tenant's reopen window; after it,
or on a closed ticket, the message opens a follow-up ticket linked to the old one.
"""

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.interactions.models import AuthorKind
from centralita.interactions.schemas import MessageIn
from centralita.sla.service import SlaEvent
from centralita.tickets.catalog import active_staff
from centralita.tickets.desk import Desk
from centralita.tickets.effects import announce, announce_public_update, ensure_work, track
from centralita.tickets.fields import known_custom_fields
from centralita.tickets.lifecycle import (
    add_message,
    audit,
    change_status,
    get_ticket,
    refuse_closed,
)
from centralita.tickets.models import (
    MessageKind,
    Ticket,
    TicketLink,
    TicketMessage,
    TicketStatus,
)
from centralita.tickets.schemas import MessageCreate, TicketCreate
from centralita.tickets.service import create_ticket, followers_of

# How far a chain of merges is followed to find the ticket a customer's message belongs to.
MAX_MERGE_HOPS = 20


async def reply_publicly(
    session: AsyncSession,
    desk: Desk,
    ticket: Ticket,
    text: str,
    html: str | None,
    now: datetime,
) -> TicketMessage:
    """An agent's reply the requester sees: the first one is the first response, and it takes a
    new ticket into work."""
    message = add_message(
        session, ticket, MessageKind.PUBLIC, text, now, html=html, author_user_id=desk.actor.user_id
    )
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    await track(session, desk, ticket, now, SlaEvent.AGENT_REPLIED)
    if ticket.status == TicketStatus.NEW:
        await change_status(session, desk, ticket, TicketStatus.OPEN, now)
    announce_public_update(session, desk, ticket, message.id)
    return message


async def _ticket_written_to(session: AsyncSession, ticket_id: uuid.UUID) -> Ticket:
    """The ticket a customer's message lands in: a merged ticket's survivor, locked."""
    ticket = await get_ticket(session, ticket_id, for_update=True)
    hops = 0
    while ticket.merged_into_id is not None and hops < MAX_MERGE_HOPS:
        ticket, hops = await get_ticket(session, ticket.merged_into_id, for_update=True), hops + 1
    return ticket


def _reopens(desk: Desk, ticket: Ticket, now: datetime) -> bool:
    window = timedelta(days=desk.settings.reopen_days)
    return ticket.resolved_at is not None and now - ticket.resolved_at <= window


def _said(data: MessageCreate) -> MessageIn:
    """A customer's message to a ticket, as the work that answers it shows it."""
    return MessageIn(author_kind=AuthorKind.CUSTOMER, text=data.text, html=data.html)


async def _follow_up(
    session: AsyncSession,
    desk: Desk,
    previous: Ticket,
    data: MessageCreate,
    said: MessageIn,
    now: datetime,
) -> Ticket:
    """A new ticket for a customer writing about one closed (or resolved too long ago), kept in
    the same hands where they still serve the tenant."""
    followers = await followers_of(session, previous.id)
    staff = await active_staff(session, [*followers, *filter(None, [previous.assignee_user_id])])
    follow_up = await create_ticket(
        session,
        desk,
        TicketCreate(
            requester_id=previous.requester_id,
            type=previous.type,
            subject=previous.subject,
            description=data.text,
            channel=previous.channel,
            team_id=previous.team_id,
            assignee_user_id=previous.assignee_user_id
            if previous.assignee_user_id in staff
            else None,
            category_id=previous.category_id,
            followers=[user_id for user_id in followers if user_id in staff],
            tags=previous.tags,
            custom_fields=await known_custom_fields(session, previous.custom_fields),
            impact=previous.impact,
            urgency=previous.urgency,
            priority=previous.priority if previous.priority_overridden else None,
        ),
        customer_said=said,
    )
    first, second = sorted((previous.id, follow_up.id))
    session.add(TicketLink(ticket_id=first, other_id=second))
    add_message(
        session,
        follow_up,
        MessageKind.SYSTEM,
        desk.note("follow_up", previous=desk.reference(previous)),
        now,
    )
    for ticket, other in ((previous, follow_up), (follow_up, previous)):
        audit(session, desk, ticket, "ticket.linked", None, {"other_id": other.id})
    return follow_up


async def _customer_wrote(
    session: AsyncSession, desk: Desk, ticket: Ticket, data: MessageCreate, said: MessageIn
) -> TicketMessage:
    now = utcnow()
    if ticket.status == TicketStatus.CLOSED or (
        ticket.status == TicketStatus.RESOLVED and not _reopens(desk, ticket, now)
    ):
        ticket = await _follow_up(session, desk, ticket, data, said, now)
        return add_message(session, ticket, MessageKind.CUSTOMER, data.text, now, html=data.html)
    message = add_message(session, ticket, MessageKind.CUSTOMER, data.text, now, html=data.html)
    await track(session, desk, ticket, now, SlaEvent.CUSTOMER_REPLIED)
    if ticket.status in (TicketStatus.RESOLVED, TicketStatus.PENDING_CUSTOMER):
        # The customer answered, or the problem is back: the ticket needs an agent again.
        action = "ticket.reopened" if ticket.status == TicketStatus.RESOLVED else "ticket.updated"
        await change_status(session, desk, ticket, TicketStatus.OPEN, now, action=action)
    await ensure_work(session, desk, ticket, said)
    announce(session, desk, "ticket.customer_replied", ticket, message_id=message.id)
    return message


async def post_message(
    session: AsyncSession,
    desk: Desk,
    ticket_id: uuid.UUID,
    data: MessageCreate,
    said: MessageIn | None = None,
) -> TicketMessage:
    """Add a message; the one returned may sit in a follow-up ticket (see ``ticket_id``). A
    customer's message is ``said`` in the work that answers it (by default, its words)."""
    if data.kind == MessageKind.CUSTOMER:
        ticket = await _ticket_written_to(session, ticket_id)
        message = await _customer_wrote(session, desk, ticket, data, said or _said(data))
    else:
        ticket = await get_ticket(session, ticket_id, for_update=True)
        refuse_closed(desk, ticket)
        now = utcnow()
        if data.kind == MessageKind.PUBLIC:
            message = await reply_publicly(session, desk, ticket, data.text, data.html, now)
        else:
            message = add_message(
                session,
                ticket,
                MessageKind.INTERNAL,
                data.text,
                now,
                html=data.html,
                author_user_id=desk.actor.user_id,
            )
    await session.flush()
    return message
