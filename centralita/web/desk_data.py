"""What the agent desktop shows beside a conversation: the customer, their history and the
banners that tell an agent what matters before they say a word."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer, CustomerIdentity, ValueTier
from centralita.db.base import utcnow
from centralita.i18n import gettext_noop
from centralita.interactions.models import Interaction
from centralita.interactions.service import get_interaction
from centralita.journey.schemas import TimelineItemOut
from centralita.journey.service import customer_360
from centralita.tickets.models import Ticket, TicketLink, TicketSettings, TicketStatus
from centralita.tickets.settings import reference
from centralita.web.survey_answers import LatestAnswer, latest_answer

REPEAT_WINDOW = timedelta(days=7)
# Contacts within the window from which a repeat contact is worth flagging.
REPEAT_FROM = 2
LONG_WAIT = timedelta(minutes=2)
TIMELINE_ITEMS = 15
OPEN_TICKETS = 10
VALUED_TIERS = frozenset({ValueTier.GOLD, ValueTier.PLATINUM})
CLOSED_TICKETS = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


@dataclass(frozen=True)
class Banner:
    """One thing the agent should know at a glance; ``tone`` picks its colour."""

    tone: str
    message: str
    values: dict[str, object]
    plural: str | None = None
    count: int = 0


@dataclass(frozen=True)
class OpenTicket:
    id: uuid.UUID
    reference: str
    subject: str
    status: str
    priority: str
    sla_due_at: datetime | None
    sla_breached: bool
    # The references of the tickets linked to this one as related.
    related: list[str]


@dataclass(frozen=True)
class CustomerPanel:
    customer: Customer
    identities: list[CustomerIdentity]
    interaction: Interaction
    timeline: list[TimelineItemOut]
    open_tickets: list[OpenTicket]
    banners: list[Banner]
    latest_survey: LatestAnswer | None


def _wait(interaction: Interaction, now: datetime) -> timedelta | None:
    if interaction.queued_at is None:
        return None
    answered = interaction.answered_at or interaction.offered_at or now
    return answered - interaction.queued_at


async def _contacts_since(
    session: AsyncSession, customer_id: uuid.UUID, since: datetime, topic: str | None
) -> int:
    query = select(func.count()).where(
        Interaction.customer_id == customer_id, Interaction.created_at >= since
    )
    if topic is not None:
        query = query.where(Interaction.topic == topic)
    return int((await session.execute(query)).scalar_one())


async def banners_for(
    session: AsyncSession, customer: Customer, interaction: Interaction, now: datetime
) -> list[Banner]:
    banners: list[Banner] = []
    if customer.value_tier in VALUED_TIERS:
        banners.append(Banner("vip", gettext_noop("VIP customer"), {}))
    topic = interaction.topic
    contacts = await _contacts_since(session, customer.id, now - REPEAT_WINDOW, topic)
    if contacts > REPEAT_FROM:
        if topic:
            banners.append(
                Banner(
                    "warning",
                    gettext_noop("Contact number %(num)d about “%(topic)s” in 7 days"),
                    {"topic": topic},
                    count=contacts,
                )
            )
        else:
            banners.append(
                Banner(
                    "warning", gettext_noop("Contact number %(num)d in 7 days"), {}, count=contacts
                )
            )
    wait = _wait(interaction, now)
    if wait is not None and wait >= LONG_WAIT:
        minutes = int(wait.total_seconds() // 60)
        banners.append(
            Banner(
                "warning",
                gettext_noop("Waited %(num)d minute"),
                {},
                # The catalogue's plural of the message above, not a message of its own.
                plural="Waited %(num)d minutes",
                count=minutes,
            )
        )
    return banners


async def open_tickets_of(session: AsyncSession, customer_id: uuid.UUID) -> list[OpenTicket]:
    settings = (await session.execute(select(TicketSettings))).scalar_one_or_none()
    prefix = settings.prefix if settings else "T"
    rows = list(
        (
            await session.execute(
                select(Ticket)
                .where(
                    Ticket.requester_id == customer_id,
                    Ticket.status.not_in(CLOSED_TICKETS),
                    Ticket.merged_into_id.is_(None),
                )
                .order_by(Ticket.updated_at.desc())
                .limit(OPEN_TICKETS)
            )
        ).scalars()
    )
    related = await _related_references(session, prefix, [t.id for t in rows])
    return [
        OpenTicket(
            t.id,
            reference(prefix, t.number),
            t.subject,
            t.status,
            t.priority,
            t.sla_due_at,
            bool(t.sla_breached),
            related.get(t.id, []),
        )
        for t in rows
    ]


async def _related_references(
    session: AsyncSession, prefix: str, ticket_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The references of the tickets linked to each of ``ticket_ids``, in number order."""
    if not ticket_ids:
        return {}
    links = (
        await session.execute(
            select(TicketLink.ticket_id, TicketLink.other_id).where(
                or_(TicketLink.ticket_id.in_(ticket_ids), TicketLink.other_id.in_(ticket_ids))
            )
        )
    ).all()
    wanted = set(ticket_ids)
    pairs = [(one, other) for one, other in links if one in wanted] + [
        (other, one) for one, other in links if other in wanted
    ]
    if not pairs:
        return {}
    others = {other for _, other in pairs}
    numbers = dict(
        (await session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(others)))).all()
    )
    found: dict[uuid.UUID, list[int]] = {}
    for ticket_id, other in pairs:
        found.setdefault(ticket_id, []).append(numbers[other])
    return {
        ticket_id: [reference(prefix, number) for number in sorted(linked)]
        for ticket_id, linked in found.items()
    }


async def customer_panel(session: AsyncSession, interaction_id: uuid.UUID) -> CustomerPanel:
    """The customer of ``interaction_id`` in the scoped tenant, as the desktop shows them."""
    interaction = await get_interaction(session, interaction_id)
    view = await customer_360(session, interaction.customer_id, limit=TIMELINE_ITEMS)
    customer = view.customer
    now = utcnow()
    return CustomerPanel(
        customer=customer,
        identities=view.identities,
        interaction=interaction,
        timeline=[item for item in view.timeline.items if item.id != interaction.id],
        open_tickets=await open_tickets_of(session, customer.id),
        banners=await banners_for(session, customer, interaction, now),
        latest_survey=await latest_answer(session, interaction.tenant_id, customer.id),
    )
