import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    # Given up: the receiver answered 410 Gone, the URL became unsafe, or retries ran out.
    FAILED = "failed"


class WebhookSubscription(TenantEntity, Base):
    """A URL of the tenant's that receives the events of the types it names, signed."""

    __tablename__ = "webhook_subscriptions"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(300))
    event_types: Mapped[list[str]]
    # The Standard Webhooks secret, "whsec_" + base64 of the key bytes; shown to the tenant.
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    # Why deliveries stopped by themselves ("gone" after a 410), or None.
    disabled_reason: Mapped[str | None] = mapped_column(String(100))
    # The circuit breaker: after enough failures in a row the endpoint rests until open_until,
    # so a receiver that is down is not hammered and its backlog waits without being attempted.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    breaker_trips: Mapped[int] = mapped_column(SmallInteger, default=0)
    breaker_open_until: Mapped[datetime | None]


class WebhookDelivery(TenantEntity, Base):
    """One event for one subscription, until it is delivered or given up; the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "subscription_id"],
            ["webhook_subscriptions.tenant_id", "webhook_subscriptions.id"],
            ondelete="CASCADE",
        ),
        # A fan-out that runs twice (a retried job) cannot deliver an event twice.
        UniqueConstraint("tenant_id", "subscription_id", "event_id"),
        Index("ix_webhook_deliveries_subscription", "tenant_id", "subscription_id", "created_at"),
    )

    subscription_id: Mapped[uuid.UUID]
    # Also the ``webhook-id`` header: the receiver's key to recognise a redelivery.
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[DeliveryStatus] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None]
