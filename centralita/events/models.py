import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantScoped, new_id, utcnow


class AuditEntry(TenantScoped, Base):
    """Who changed what in a tenant, when, and the values before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "tenant_id", "entity_type", "entity_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    actor_token_id: Mapped[uuid.UUID | None]
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


class EventRecord(TenantScoped, Base):
    """A tenant's domain event, kept so webhooks and rules can act on it durably.

    Written in the transaction that emits the event (see :mod:`centralita.events.outbox`), so an
    event reaches its subscribers exactly when its change is committed, even if every process
    dies right after. The last days also feed the rules' dry-run.
    """

    __tablename__ = "event_log"
    __table_args__ = (
        Index("ix_event_log_at", "tenant_id", "at"),
        Index("ix_event_log_type_at", "tenant_id", "type", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    at: Mapped[datetime]
    # Ids of the rules whose actions led to this event, so a rule never reacts to itself.
    caused_by: Mapped[list[str]] = mapped_column(default=list)
