import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class CallbackStatus(StrEnum):
    # Waiting for its due time (first, or after an unanswered attempt).
    SCHEDULED = "scheduled"
    # Routable work: its interaction waits in a queue or is with an agent.
    QUEUED = "queued"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


OPEN = frozenset({CallbackStatus.SCHEDULED, CallbackStatus.QUEUED})


class Outcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"


class CallbackSource(StrEnum):
    AGENT = "agent"
    RULE = "rule"
    PORTAL = "portal"
    IVR = "ivr"
    API = "api"
    CAMPAIGN = "campaign"


class Callback(TenantEntity, Base):
    """A call the contact center owes a customer, and what happened each time it was tried."""

    __tablename__ = "callbacks"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "interaction_id"], ["interactions.tenant_id", "interactions.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "origin_interaction_id"], ["interactions.tenant_id", "interactions.id"]
        ),
        Index("ix_callbacks_status_due", "tenant_id", "status", "due_at"),
        Index("ix_callbacks_customer", "tenant_id", "customer_id"),
    )

    customer_id: Mapped[uuid.UUID]
    # The number to call (E.164); None: the customer's phone identity.
    phone: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(SmallInteger)
    reason: Mapped[str] = mapped_column(String(300))
    source: Mapped[CallbackSource] = mapped_column(String(10))
    # The rule that created it, for the agent's "why am I calling".
    rule_id: Mapped[uuid.UUID | None]
    # What led to it (an abandoned call, a surveyed contact), and what it carries (the answer).
    origin_interaction_id: Mapped[uuid.UUID | None]
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[CallbackStatus] = mapped_column(String(10), default=CallbackStatus.SCHEDULED)
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    max_attempts: Mapped[int] = mapped_column(SmallInteger, default=3)
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The routable work of the current try.
    interaction_id: Mapped[uuid.UUID | None]
