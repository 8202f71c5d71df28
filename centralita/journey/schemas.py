import uuid
from datetime import datetime
from typing import Literal

from centralita.customers.schemas import CustomerOut, IdentityOut
from centralita.interactions.models import Channel, Direction
from centralita.schemas import Page, Read

TimelineKind = Literal["interaction"]


class TimelineItemOut(Read):
    """One piece of the customer's history; every kind of work fills the same fields."""

    id: uuid.UUID
    kind: TimelineKind
    channel: Channel | None
    direction: Direction | None
    state: str
    subject: str | None
    topic: str | None
    queue: str | None
    agent_user_id: uuid.UUID | None
    disposition: str | None
    created_at: datetime
    closed_at: datetime | None


class Customer360Out(Read):
    customer: CustomerOut
    identities: list[IdentityOut]
    timeline: Page[TimelineItemOut]
