"""What a change to a ticket sets off outside it: its SLA clocks, routable work, live events."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer
from centralita.db.base import utcnow
from centralita.events.bus import Event, emit, supervisors_topic, user_topic
from centralita.interactions.models import Channel, Interaction, InteractionState
from centralita.interactions.schemas import InteractionCreate, MessageIn
from centralita.interactions.service import append_message, create_interaction, new_message
from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.sla.service import SlaEvent, SlaSubject, track_ticket
from centralita.tickets.desk import Desk
from centralita.tickets.models import Priority, Ticket

# Work on these channels can be answered on them; anything else is a back-office task.
ROUTABLE_CHANNELS = frozenset(
    {Channel.EMAIL, Channel.WEB, Channel.CHAT, Channel.SMS, Channel.VOICE}
)
OPEN_WORK = (InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.ACTIVE)
# An interaction's priority is 0-9, higher first; the SLA deadline refines it.
WORK_PRIORITY = {Priority.P1: 8, Priority.P2: 6, Priority.P3: 5, Priority.P4: 3}
SUBJECT_LIMIT = 300


async def requester_of(session: AsyncSession, ticket: Ticket) -> Customer:
    query = select(Customer).where(Customer.id == ticket.requester_id)
    return (await session.execute(query)).scalar_one()


async def track(
    session: AsyncSession,
    desk: Desk,
    ticket: Ticket,
    now: datetime,
    *events: SlaEvent,
    requester: Customer | None = None,
) -> None:
    """Tell the SLA clock about ``events`` (in order), with the ticket as it now is."""
    if not events:
        return
    await session.flush()
    customer = requester or await requester_of(session, ticket)
    subject = SlaSubject(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        priority=ticket.priority,
        type=ticket.type,
        category_id=ticket.category_id,
        segment=customer.segment,
        value_tier=customer.value_tier,
        channel=ticket.channel,
        status=ticket.status,
        created_at=ticket.created_at,
    )
    for event in events:
        await track_ticket(session, desk.tenant, subject, event, now)


def work_subject(reference: str, subject: str) -> str:
    text = f"{reference} · {subject}"
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


async def ensure_work(
    session: AsyncSession, desk: Desk, ticket: Ticket, said: MessageIn | None = None
) -> Interaction | None:
    """Queue work for the ticket unless some is already open; the new interaction, if any. What
    the customer ``said`` goes into that work, so the agent reads it where they answer it.

    Callers hold the ticket's row lock, so two messages at once cannot both find none open.
    """
    open_work = select(Interaction).where(
        Interaction.ticket_id == ticket.id, Interaction.state.in_(OPEN_WORK)
    )
    waiting = (await session.execute(open_work.limit(1))).scalar()
    if waiting is None:
        return await queue_work(session, desk, ticket, said=said)
    if said is not None:
        append_message(session, waiting, new_message(waiting, said, desk.actor, utcnow()))
    return None


async def queue_work(
    session: AsyncSession,
    desk: Desk,
    ticket: Ticket,
    *,
    queue: str | None = None,
    topic: str | None = None,
    said: MessageIn | None = None,
) -> Interaction:
    """Routable work for the ticket, for its requester, on the ticket's channel when routing can
    answer there (else as a task), in ``queue`` about ``topic`` when the caller knows them, with
    what the customer ``said`` as its first message."""
    channel = ticket.channel if ticket.channel in ROUTABLE_CHANNELS else Channel.TASK
    data = InteractionCreate(
        channel=Channel(channel),
        customer_id=ticket.requester_id,
        priority=WORK_PRIORITY[Priority(ticket.priority)],
        subject=work_subject(desk.reference(ticket), ticket.subject),
        queue=queue,
        topic=topic,
        message=said,
    )
    thread = await create_interaction(session, desk.tenant, desk.actor, data, desk.rules)
    thread.interaction.ticket_id = ticket.id
    await session.flush()
    return thread.interaction


def announce(session: AsyncSession, desk: Desk, kind: str, ticket: Ticket, **data: Any) -> None:
    """An event about a ticket, after commit, for the tenant's supervisors and the assignee."""
    recipients = [supervisors_topic(ticket.tenant_id)]
    if ticket.assignee_user_id is not None:
        recipients.append(user_topic(ticket.assignee_user_id))
    event = Event(
        type=kind,
        tenant=ticket.tenant_id,
        data={
            "ticket_id": ticket.id,
            "reference": desk.reference(ticket),
            "status": ticket.status,
            "priority": ticket.priority,
            "assignee_user_id": ticket.assignee_user_id,
            **data,
        },
        recipients=tuple(recipients),
    )
    emit(session, event)


def announce_public_update(
    session: AsyncSession, desk: Desk, ticket: Ticket, message_id: uuid.UUID
) -> None:
    """The requester has something new to read; the channels deliver it to them."""
    if ticket.channel == Channel.EMAIL:
        # In this transaction, so a reply the agent saw saved is one the customer will get.
        schedule(session, JobKind.EMAIL_TICKET_REPLY, ref_id=message_id)
    announce(
        session,
        desk,
        "ticket.updated_publicly",
        ticket,
        customer_id=ticket.requester_id,
        message_id=message_id,
    )
