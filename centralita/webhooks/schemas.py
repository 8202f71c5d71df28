import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from centralita.events.outbox import RECORDED_TYPES
from centralita.schemas import Read, Strict
from centralita.webhooks.models import DeliveryStatus

EventType = Annotated[str, Field(max_length=64)]


def _known_types(types: list[str] | None) -> list[str] | None:
    if types is None:
        return None
    unknown = sorted(set(types) - RECORDED_TYPES)
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)}")
    return sorted(set(types))


class SubscriptionCreate(Strict):
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[EventType] = Field(min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=300)
    active: bool = True

    check_event_types = field_validator("event_types")(_known_types)


class SubscriptionUpdate(Strict):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=300)
    active: bool | None = None

    check_event_types = field_validator("event_types")(_known_types)


class SubscriptionOut(Read):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    secret: str = Field(description="Verify each delivery's webhook-signature with this secret.")
    active: bool
    disabled_reason: str | None
    consecutive_failures: int
    breaker_open_until: datetime | None
    created_at: datetime


class DeliveryOut(Read):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class ReplayRequest(Strict):
    since: datetime = Field(description="Replay the failed deliveries created from this time on.")


class ReplayOut(Read):
    replayed: int
