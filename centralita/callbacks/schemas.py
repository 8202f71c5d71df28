import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from centralita.callbacks.models import CallbackSource, CallbackStatus, Outcome
from centralita.schemas import Read, Strict


class CallbackCreate(Strict):
    customer_id: uuid.UUID
    phone: str | None = Field(default=None, max_length=32)
    queue: str | None = Field(default=None, min_length=1, max_length=100)
    priority: int = Field(default=5, ge=0, le=9)
    reason: str = Field(min_length=1, max_length=300)
    due_at: datetime | None = Field(default=None, description="Now when absent.")
    expires_in_hours: int = Field(default=48, ge=1, le=24 * 30)
    max_attempts: int = Field(default=3, ge=1, le=10)


class AttemptIn(Strict):
    outcome: Outcome
    note: str | None = Field(default=None, max_length=300)


class CallbackOut(Read):
    id: uuid.UUID
    customer_id: uuid.UUID
    phone: str | None
    queue: str | None
    priority: int
    reason: str
    source: CallbackSource
    rule_id: uuid.UUID | None
    origin_interaction_id: uuid.UUID | None
    context: dict[str, Any]
    status: CallbackStatus
    due_at: datetime
    expires_at: datetime
    max_attempts: int
    attempts: list[dict[str, Any]]
    interaction_id: uuid.UUID | None
    created_at: datetime
