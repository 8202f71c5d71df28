import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"
    WEB = "web"
    CALLBACK = "callback"
    TASK = "task"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class InteractionState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ACTIVE = "active"
    WRAP_UP = "wrap_up"
    ENDED = "ended"
    ABANDONED = "abandoned"


S = InteractionState

# The one table of allowed moves. Offered work may fall back to the queue (declined or timed out),
# active work may be transferred back to a queue, and an agent may skip wrap-up.
TRANSITIONS: dict[InteractionState, frozenset[InteractionState]] = {
    S.QUEUED: frozenset({S.OFFERED, S.ACTIVE, S.ABANDONED, S.ENDED}),
    S.OFFERED: frozenset({S.QUEUED, S.ACTIVE, S.ABANDONED}),
    S.ACTIVE: frozenset({S.QUEUED, S.WRAP_UP, S.ENDED}),
    S.WRAP_UP: frozenset({S.ENDED}),
    S.ENDED: frozenset(),
    S.ABANDONED: frozenset(),
}

# New work waits in a queue, or is already being handled (an agent's outbound call).
INITIAL_STATES = frozenset({S.QUEUED, S.ACTIVE})


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"
    BOT = "bot"
    # An agent's internal note (wrap-up notes, transfer notes): never shown to the customer.
    NOTE = "note"


class Interaction(TenantEntity, Base):
    """One piece of work for one customer on one channel, from arrival to wrap-up."""

    __tablename__ = "interactions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
        # By table name: tickets build on interactions, never the other way round.
        ForeignKeyConstraint(["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"]),
        # NULLs are distinct in a unique index on both databases, so only provider ids collide.
        UniqueConstraint("tenant_id", "channel", "external_ref"),
        Index("ix_interactions_customer_created", "tenant_id", "customer_id", "created_at"),
        Index("ix_interactions_created", "tenant_id", "created_at"),
        Index("ix_interactions_state", "tenant_id", "state"),
        Index("ix_interactions_ticket", "tenant_id", "ticket_id"),
    )

    customer_id: Mapped[uuid.UUID]
    channel: Mapped[Channel] = mapped_column(String(10))
    direction: Mapped[Direction] = mapped_column(String(10))
    state: Mapped[InteractionState] = mapped_column(String(10))
    queue: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(5))
    # 0 to 9, higher is more urgent.
    priority: Mapped[int] = mapped_column(SmallInteger)
    subject: Mapped[str | None] = mapped_column(String(300))
    topic: Mapped[str | None] = mapped_column(String(100))
    # What an IVR or a bot collected before a person took over, so the customer never repeats it.
    self_service_context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    queued_at: Mapped[datetime | None]
    offered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wrap_up_ended_at: Mapped[datetime | None]
    agent_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    disposition: Mapped[str | None] = mapped_column(String(100))
    # The provider's own id (a CallSid, a Message-ID), so a redelivered event is recognised.
    external_ref: Mapped[str | None] = mapped_column(String(200))
    # The ticket this work is for (a new ticket, or a customer's reply to one): its SLA deadline
    # is the work's routing urgency.
    ticket_id: Mapped[uuid.UUID | None]


class Message(TenantEntity, Base):
    """Something said in an interaction. ``text`` is kept as received and always rendered as text;
    ``html`` has been sanitised before it was stored."""

    __tablename__ = "interaction_messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "interaction_id"],
            ["interactions.tenant_id", "interactions.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_interaction_messages_interaction_created",
            "tenant_id",
            "interaction_id",
            "created_at",
        ),
    )

    interaction_id: Mapped[uuid.UUID]
    author_kind: Mapped[AuthorKind] = mapped_column(String(10))
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    # Metadata only (name, content_type, size, url); the files live in the channel's storage.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
