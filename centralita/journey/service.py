"""The customer 360 view: who the customer is and everything done for them, newest first."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers import service as customers
from centralita.customers.models import Customer, CustomerIdentity
from centralita.db.paging import DEFAULT_LIMIT, Slice, paginate
from centralita.interactions.models import Interaction
from centralita.journey.schemas import TimelineItemOut


@dataclass(frozen=True)
class Customer360:
    customer: Customer
    identities: list[CustomerIdentity]
    timeline: Slice[TimelineItemOut]


def _interaction_item(interaction: Interaction) -> TimelineItemOut:
    return TimelineItemOut(
        id=interaction.id,
        kind="interaction",
        channel=interaction.channel,
        direction=interaction.direction,
        state=interaction.state,
        subject=interaction.subject,
        topic=interaction.topic,
        queue=interaction.queue,
        agent_user_id=interaction.agent_user_id,
        disposition=interaction.disposition,
        created_at=interaction.created_at,
        closed_at=interaction.ended_at,
    )


async def customer_360(
    session: AsyncSession,
    customer_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Customer360:
    """Profile, identities and one page of history of a customer of the scoped tenant."""
    customer = await customers.get_customer(session, customer_id)
    identities = await customers.list_identities(session, customer.id)
    page = await paginate(
        session,
        select(Interaction).where(Interaction.customer_id == customer.id),
        (Interaction.created_at, Interaction.id),
        cursor=cursor,
        limit=limit,
    )
    timeline = Slice([_interaction_item(i) for i in page.items], page.next_cursor)
    return Customer360(customer, identities, timeline)
