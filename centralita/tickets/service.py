"""Tickets: creating them, changing them, and reading one with its thread and its history.

Every change is written to the audit log against the ticket, which is the ticket's history; the
SLA clock hears of each change that matters to it, and new tickets queue routable work.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer
from centralita.db.base import new_id, utcnow
from centralita.errors import FieldError
from centralita.events.models import AuditEntry
from centralita.events.service import apply_changes
from centralita.interactions.schemas import MessageIn
from centralita.sla.models import SlaTarget
from centralita.sla.service import SlaEvent, ticket_targets
from centralita.tickets.catalog import (
    MAX_DEPTH,
    active_staff,
    category_exists,
    invalid,
    refuse_invalid,
    staff_list_errors,
    team_exists,
)
from centralita.tickets.desk import Desk
from centralita.tickets.effects import OPEN_WORK, announce, queue_work, track
from centralita.tickets.fields import checked_custom_fields, missing_required, required_fields
from centralita.tickets.lifecycle import (
    SLA_FIELDS,
    add_message,
    after_status_change,
    audit,
    file_conversation,
    get_ticket,
    locked_conversation,
    move_status,
    refuse_closed,
    refuse_transition,
)
from centralita.tickets.models import (
    Level,
    MessageKind,
    Ticket,
    TicketFollower,
    TicketLink,
    TicketMessage,
    TicketStatus,
    TicketTemplate,
    TicketType,
)
from centralita.tickets.schemas import TicketCreate, TicketUpdate
from centralita.tickets.search import index_words
from centralita.tickets.settings import priority_for, take_number
from centralita.tickets.templates import customer_locale, find_template, pick_locale

# What the history records of a new ticket.
CREATED_FIELDS = (
    "number",
    "type",
    "status",
    "subject",
    "requester_id",
    "channel",
    "team_id",
    "assignee_user_id",
    "category_id",
    "tags",
    "custom_fields",
    "impact",
    "urgency",
    "priority",
    "priority_overridden",
    "parent_id",
)


async def live_customer(
    session: AsyncSession, tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> Customer | None:
    """The customer with this id in the tenant, following merges; None if unknown. A customer
    this transaction has just found or created is not read again."""
    customer = await session.get(Customer, (tenant_id, customer_id))
    depth = 0
    while customer is not None and customer.merged_into_id is not None and depth < MAX_DEPTH:
        found = await session.get(Customer, (tenant_id, customer.merged_into_id))
        if found is None:
            raise LookupError(f"customer {customer.merged_into_id} was merged into is missing")
        customer, depth = found, depth + 1
    return customer


async def parent_error(
    session: AsyncSession, ticket_id: uuid.UUID | None, parent_id: uuid.UUID, field: str
) -> FieldError | None:
    """Why ``parent_id`` cannot be the parent of ``ticket_id`` (unknown, itself or its
    descendant), or None."""
    node_id: uuid.UUID | None = parent_id
    depth = 0
    while node_id is not None and depth < MAX_DEPTH:
        if node_id == ticket_id:
            return FieldError(field, "A ticket cannot be its own parent or ancestor")
        found = (
            await session.execute(select(Ticket.parent_id).where(Ticket.id == node_id))
        ).first()
        if found is None:
            return FieldError(field, "No such ticket")
        node_id, depth = found[0], depth + 1
    return None


async def link_errors(
    session: AsyncSession, ticket_id: uuid.UUID | None, values: dict[str, Any], at: str = "body"
) -> list[FieldError]:
    """What is wrong with the team, category, assignee, followers and parent in ``values``
    (errors at ``<at>.<name>``): each must be the scoped tenant's, and another tenant's is as
    unknown as a made-up id."""
    errors: list[FieldError] = []
    if values.get("team_id") is not None and not await team_exists(session, values["team_id"]):
        errors.append(FieldError(f"{at}.team_id", "No such team"))
    category_id = values.get("category_id")
    if category_id is not None and not await category_exists(session, category_id):
        errors.append(FieldError(f"{at}.category_id", "No such category"))
    assignee = values.get("assignee_user_id")
    if assignee is not None and assignee not in await active_staff(session, [assignee]):
        errors.append(FieldError(f"{at}.assignee_user_id", "No such agent in this tenant"))
    if values.get("followers"):
        errors.extend(await staff_list_errors(session, values["followers"], f"{at}.followers"))
    if values.get("parent_id") is not None:
        error = await parent_error(session, ticket_id, values["parent_id"], f"{at}.parent_id")
        errors.extend([error] if error else [])
    return errors


def _prefilled(data: TicketCreate, template: TicketTemplate | None) -> dict[str, Any]:
    """Type, category, impact and urgency: as sent, else from the template, else the defaults."""
    sent = data.model_fields_set

    def pick(name: str) -> Any:
        return getattr(data if name in sent or template is None else template, name)

    return {
        "type": pick("type") or TicketType.INCIDENT,
        "category_id": pick("category_id"),
        "impact": pick("impact") or Level.MEDIUM,
        "urgency": pick("urgency") or Level.MEDIUM,
    }


def _subject(
    data: TicketCreate, template: TicketTemplate | None, requester: Customer | None, desk: Desk
) -> str | None:
    if data.subject is not None or template is None:
        return data.subject
    wanted = customer_locale(requester) if requester else None
    locale = pick_locale(template.subject, wanted, desk.tenant)
    return template.subject[locale] if locale else None


async def create_ticket(
    session: AsyncSession,
    desk: Desk,
    data: TicketCreate,
    *,
    work_queue: str | None = None,
    work_topic: str | None = None,
    customer_said: MessageIn | None = None,
) -> Ticket:
    """A new ticket, numbered in this transaction, with routable work queued for it (in
    ``work_queue``, about ``work_topic``, where a channel has already steered it, and showing
    what the customer said when a channel opened the ticket for them)."""
    now = utcnow()
    errors: list[FieldError] = []
    template = None
    if data.template_id is not None:
        template = await find_template(session, data.template_id)
        if template is None:
            errors.append(FieldError("body.template_id", "No such template"))
    requester = await live_customer(session, desk.tenant.id, data.requester_id)
    if requester is None:
        errors.append(FieldError("body.requester_id", "No such customer"))
    conversation = None
    if data.conversation_id is not None:
        conversation = await locked_conversation(session, data.conversation_id)
        if conversation is None:
            errors.append(FieldError("body.conversation_id", "No such conversation"))
        elif requester is not None and conversation.customer_id != requester.id:
            errors.append(
                FieldError("body.conversation_id", "The conversation is with another customer")
            )
    subject = _subject(data, template, requester, desk)
    if subject is None:
        errors.append(FieldError("body.subject", "Give a subject, or a template that has one"))
    fields = _prefilled(data, template)
    errors.extend(await link_errors(session, None, {**data.model_dump(), **fields}))
    template_values = template.custom_fields if template else {}
    custom_fields, field_errors = await checked_custom_fields(
        session, {}, {**template_values, **data.custom_fields}
    )
    errors.extend(field_errors)
    if errors or requester is None or subject is None:
        raise invalid(errors)
    number = await take_number(session, desk.tenant)
    ticket = Ticket(
        tenant_id=desk.tenant.id,
        id=new_id(),
        number=number,
        status=TicketStatus.NEW,
        subject=subject,
        description=data.description,
        requester_id=requester.id,
        team_id=data.team_id,
        assignee_user_id=data.assignee_user_id,
        channel=data.channel,
        tags=data.tags,
        custom_fields=custom_fields,
        priority=data.priority or priority_for(desk.settings, fields["impact"], fields["urgency"]),
        priority_overridden=data.priority is not None,
        parent_id=data.parent_id,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(ticket)
    await session.flush()
    await index_words(session, ticket, desk.reference(ticket))
    session.add_all(TicketFollower(ticket_id=ticket.id, user_id=user) for user in data.followers)
    if template is not None and template.checklist:
        items = "\n".join(f"- {item}" for item in template.checklist)
        add_message(
            session, ticket, MessageKind.INTERNAL, f"{desk.note('checklist')}\n{items}", now
        )
    audit(session, desk, ticket, "ticket.created", None, _snapshot(ticket, data.followers))
    await track(session, desk, ticket, now, SlaEvent.CREATED, requester=requester)
    if conversation is not None:
        await file_conversation(session, desk, ticket, conversation)
    if conversation is None or conversation.state not in OPEN_WORK:
        await queue_work(
            session, desk, ticket, queue=work_queue, topic=work_topic, said=customer_said
        )
    announce(session, desk, "ticket.created", ticket)
    await session.flush()
    return ticket


def _snapshot(ticket: Ticket, followers: list[uuid.UUID]) -> dict[str, Any]:
    return {**{name: getattr(ticket, name) for name in CREATED_FIELDS}, "followers": followers}


# --- changes -----------------------------------------------------------------------------------


async def checked_changes(
    session: AsyncSession, ticket: Ticket, sent: dict[str, Any]
) -> dict[str, Any]:
    """The sent changes, checked against the tenant's rows (422 naming each bad field)."""
    errors = await link_errors(session, ticket.id, sent)
    if "custom_fields" in sent:
        sent["custom_fields"], field_errors = await checked_custom_fields(
            session, ticket.custom_fields, sent["custom_fields"]
        )
        errors.extend(field_errors)
    if sent.get("status") == TicketStatus.RESOLVED and ticket.status != TicketStatus.RESOLVED:
        values = sent.get("custom_fields", ticket.custom_fields)
        errors.extend(missing_required(await required_fields(session), values))
    refuse_invalid(errors)
    return sent


async def followers_of(session: AsyncSession, ticket_id: uuid.UUID) -> list[uuid.UUID]:
    query = (
        select(TicketFollower.user_id)
        .where(TicketFollower.ticket_id == ticket_id)
        .order_by(TicketFollower.user_id)
    )
    return list((await session.execute(query)).scalars())


async def _replace_followers(
    session: AsyncSession, ticket: Ticket, wanted: list[uuid.UUID]
) -> tuple[dict[str, Any], dict[str, Any]]:
    current = await followers_of(session, ticket.id)
    if set(current) == set(wanted):
        return {}, {}
    await session.execute(delete(TicketFollower).where(TicketFollower.ticket_id == ticket.id))
    session.add_all(TicketFollower(ticket_id=ticket.id, user_id=user) for user in wanted)
    return {"followers": current}, {"followers": sorted(wanted)}


def _priority_changes(desk: Desk, ticket: Ticket, changes: dict[str, Any]) -> dict[str, Any]:
    """A priority sent is an override (null hands it back to the matrix); otherwise a new impact
    or urgency moves a priority the matrix decides."""
    impact = Level(changes.get("impact", ticket.impact))
    urgency = Level(changes.get("urgency", ticket.urgency))
    if "priority" in changes:
        chosen = changes.pop("priority")
        if chosen is not None:
            return {"priority": chosen, "priority_overridden": True}
        return {
            "priority": priority_for(desk.settings, impact, urgency),
            "priority_overridden": False,
        }
    if not ticket.priority_overridden and changes.keys() & {"impact", "urgency"}:
        return {"priority": priority_for(desk.settings, impact, urgency)}
    return {}


async def change_ticket(
    session: AsyncSession, desk: Desk, ticket: Ticket, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply checked changes to a locked ticket: an impossible transition is a 409 before
    anything changes. Returns what changed."""
    target = changes.pop("status", None)
    if target is not None:
        refuse_transition(ticket, target)
    now = utcnow()
    followers = changes.pop("followers", None)
    changes.update(_priority_changes(desk, ticket, changes))
    before, after = apply_changes(ticket, changes)
    if target is not None and target != ticket.status:
        before["status"], after["status"] = ticket.status, target
        move_status(ticket, target, now)
    if followers is not None:
        was, now_following = await _replace_followers(session, ticket, followers)
        before.update(was)
        after.update(now_following)
    if not after:
        return after
    if after.keys() & {"subject", "description"}:
        await index_words(session, ticket, desk.reference(ticket), replacing=True)
    ticket.updated_at = now
    audit(session, desk, ticket, "ticket.updated", before, after)
    if "status" in after:
        await after_status_change(session, desk, ticket, now)
    elif after.keys() & SLA_FIELDS:
        await track(session, desk, ticket, now, SlaEvent.CHANGED)
        announce(session, desk, "ticket.updated", ticket)
    else:
        announce(session, desk, "ticket.updated", ticket)
    await session.flush()
    return after


async def update_ticket(
    session: AsyncSession, desk: Desk, ticket_id: uuid.UUID, data: TicketUpdate
) -> Ticket:
    """Change a ticket; bad input changes nothing."""
    ticket = await get_ticket(session, ticket_id, for_update=True)
    refuse_closed(desk, ticket)
    changes = await checked_changes(session, ticket, data.model_dump(exclude_unset=True))
    await change_ticket(session, desk, ticket, changes)
    return ticket


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketView:
    ticket: Ticket
    followers: list[uuid.UUID]
    targets: list[SlaTarget]
    related: list[Ticket]
    children: list[Ticket]


async def related_tickets(session: AsyncSession, ticket_id: uuid.UUID) -> list[Ticket]:
    links = select(TicketLink).where(
        or_(TicketLink.ticket_id == ticket_id, TicketLink.other_id == ticket_id)
    )
    ids = {
        link.other_id if link.ticket_id == ticket_id else link.ticket_id
        for link in (await session.execute(links)).scalars()
    }
    query = select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.number)
    return list((await session.execute(query)).scalars()) if ids else []


async def ticket_view(session: AsyncSession, ticket: Ticket) -> TicketView:
    children = select(Ticket).where(Ticket.parent_id == ticket.id).order_by(Ticket.number)
    return TicketView(
        ticket,
        await followers_of(session, ticket.id),
        await ticket_targets(session, ticket.id),
        await related_tickets(session, ticket.id),
        list((await session.execute(children)).scalars()),
    )


async def list_messages(session: AsyncSession, ticket_id: uuid.UUID) -> list[TicketMessage]:
    ticket = await get_ticket(session, ticket_id)
    query = (
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id)
        .order_by(TicketMessage.created_at, TicketMessage.id)
    )
    return list((await session.execute(query)).scalars())


async def history(session: AsyncSession, ticket_id: uuid.UUID) -> list[AuditEntry | TicketMessage]:
    """Every change to the ticket and every message in it, oldest first."""
    messages = await list_messages(session, ticket_id)
    query = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == "ticket", AuditEntry.entity_id == str(ticket_id))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    changes = list((await session.execute(query)).scalars())
    entries: list[AuditEntry | TicketMessage] = [*changes, *messages]
    return sorted(
        entries, key=lambda e: (e.at if isinstance(e, AuditEntry) else e.created_at, e.id)
    )
