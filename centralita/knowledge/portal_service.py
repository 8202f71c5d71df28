"""What the self-service portal does for a visitor: open a ticket, look one up, ask for a call.

The portal is anonymous: a visitor is a random cookie id (deflection is counted per visitor) and
an address is kept only as a keyed hash (rate limits). A lookup answers the same whether the
number, the email or both are wrong, so it reveals nothing about who has tickets.
"""

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.email.service import send_ticket_confirmation
from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.customers.service import (
    IdentityRules,
    find_or_create,
    normalise_email,
    normalise_phone,
)
from centralita.db.base import utcnow
from centralita.errors import FieldError, InvalidInput, RateLimited
from centralita.events.service import Actor
from centralita.interactions.models import AuthorKind, Channel, Direction, Interaction
from centralita.interactions.schemas import IdentityIn, InteractionCreate, MessageIn
from centralita.interactions.service import create_interaction
from centralita.knowledge.models import EventKind, KnowledgeEvent
from centralita.knowledge.signals import record_event
from centralita.sla.business_time import next_open
from centralita.sla.deadlines import business_calendar
from centralita.sla.models import BusinessCalendar
from centralita.tenancy.models import Tenant
from centralita.tickets.desk import open_desk
from centralita.tickets.models import Ticket, TicketStatus
from centralita.tickets.schemas import TicketCreate
from centralita.tickets.service import create_ticket
from centralita.tickets.settings import reference, ticket_settings

PORTAL = Actor(label="help portal")
LOOKUPS_PER_WINDOW = 5
LOOKUP_WINDOW = timedelta(minutes=15)
CALLBACK_LEAD = timedelta(minutes=10)
CALLBACK_HORIZON = timedelta(days=30)
REFERENCE = re.compile(r"^\s*(?:[A-Za-z]{1,10}-)?(\d{1,9})\s*$")


def client_key(secret: str, tenant_id: uuid.UUID, address: str) -> str:
    message = f"{tenant_id}:{address}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def _email(raw: str, field: str) -> str:
    try:
        return normalise_email(raw)
    except ValueError as exc:
        raise InvalidInput.on_field(field, "Enter a valid email address") from exc


@dataclass(frozen=True)
class ContactForm:
    name: str
    email: str
    subject: str
    message: str


async def open_ticket(
    session: AsyncSession, tenant: Tenant, rules: IdentityRules, form: ContactForm, visitor: str
) -> str:
    """A ticket from the contact form, for the customer with that email, confirmed to them by
    email; its reference."""
    email = _email(form.email, "form.email")
    customer = await find_or_create(
        session, tenant.id, IdentityKind.EMAIL, email, display_name=form.name or None
    )
    desk = await open_desk(session, tenant, PORTAL, rules)
    ticket = await create_ticket(
        session,
        desk,
        TicketCreate(
            requester_id=customer.customer.id,
            subject=form.subject,
            description=form.message,
            channel=Channel.WEB,
        ),
        customer_said=MessageIn(author_kind=AuthorKind.CUSTOMER, text=form.message),
    )
    await record_event(
        session, tenant.id, EventKind.TICKET_OPENED, ticket_id=ticket.id, visitor=visitor
    )
    send_ticket_confirmation(session, ticket)
    return desk.reference(ticket)


async def _refuse_too_many(session: AsyncSession, key: str, now: datetime) -> None:
    recent = await session.execute(
        select(func.count())
        .select_from(KnowledgeEvent)
        .where(
            KnowledgeEvent.kind == EventKind.STATUS_LOOKUP,
            KnowledgeEvent.client_key == key,
            KnowledgeEvent.created_at >= now - LOOKUP_WINDOW,
        )
    )
    if recent.scalar_one() >= LOOKUPS_PER_WINDOW:
        raise RateLimited("Too many lookups", int(LOOKUP_WINDOW.total_seconds()))


@dataclass(frozen=True)
class Found:
    reference: str
    subject: str
    status: TicketStatus
    updated_at: datetime


async def look_up(
    session: AsyncSession, tenant: Tenant, number: str, email: str, key: str, visitor: str
) -> Found | None:
    """The ticket with this number whose requester has this email, or None for any miss."""
    now = utcnow()
    await _refuse_too_many(session, key, now)
    await record_event(
        session, tenant.id, EventKind.STATUS_LOOKUP, client_key=key, visitor=visitor, now=now
    )
    matched = REFERENCE.match(number)
    try:
        address = normalise_email(email)
    except ValueError:
        return None
    if matched is None:
        return None
    query = (
        select(Ticket)
        .join(
            CustomerIdentity,
            (CustomerIdentity.tenant_id == Ticket.tenant_id)
            & (CustomerIdentity.customer_id == Ticket.requester_id),
        )
        .where(
            Ticket.number == int(matched.group(1)),
            CustomerIdentity.kind == IdentityKind.EMAIL,
            CustomerIdentity.value == address,
        )
    )
    ticket = (await session.execute(query)).scalars().first()
    if ticket is None:
        return None
    prefix = (await ticket_settings(session, tenant)).prefix
    return Found(reference(prefix, ticket.number), ticket.subject, ticket.status, ticket.updated_at)


async def _calendar(session: AsyncSession, tenant: Tenant) -> BusinessCalendar | None:
    query = select(BusinessCalendar).order_by(BusinessCalendar.created_at).limit(1)
    return (await session.execute(query)).scalars().first()


async def request_callback(
    session: AsyncSession,
    tenant: Tenant,
    rules: IdentityRules,
    *,
    name: str,
    phone: str,
    at: datetime,
    locale: str,
    visitor: str,
) -> Interaction:
    """A callback interaction at a time the tenant is open (its first business calendar)."""
    now = utcnow()
    errors: list[FieldError] = []
    if not now + CALLBACK_LEAD <= at <= now + CALLBACK_HORIZON:
        errors.append(FieldError("form.when", "Choose a time between now and 30 days ahead"))
    else:
        calendar = business_calendar(await _calendar(session, tenant), tenant)
        if next_open(calendar, at) != at:
            errors.append(FieldError("form.when", "We are closed then; choose a time we are open"))
    try:
        phone = normalise_phone(phone, tenant.country)
    except ValueError:
        errors.append(FieldError("form.phone", "Enter a valid phone number"))
    if errors:
        raise InvalidInput(errors[0].message, errors)
    data = InteractionCreate(
        channel=Channel.CALLBACK,
        direction=Direction.OUTBOUND,
        identity=IdentityIn(kind=IdentityKind.PHONE, value=phone),
        customer_name=name or None,
        language=locale,
        subject="Callback requested on the help portal",
        self_service_context={
            "source": "help_portal",
            "callback": {"phone": phone, "requested_at": at.isoformat()},
        },
    )
    thread = await create_interaction(session, tenant, PORTAL, data, rules)
    await record_event(
        session,
        tenant.id,
        EventKind.CALLBACK_REQUESTED,
        interaction_id=thread.interaction.id,
        visitor=visitor,
    )
    return thread.interaction
