import uuid
from enum import StrEnum

from sqlalchemy import ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class OutboundChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"


class OutboundStatus(StrEnum):
    # Waiting for the channel's consumer of the ``outbound.send`` job.
    PENDING = "pending"
    SENT = "sent"
    # The provider's delivery report said it reached the phone (or the call was answered).
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboundMessage(TenantEntity, Base):
    """One message to one customer on one channel, in the customer's language, ready to send.

    Surveys, rules and callbacks write these (with an ``outbound.send`` job in the same
    transaction); the channel packages send them and set ``status``. ``body`` is plain text; a
    voice message is the text to speak.
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
        Index("ix_outbound_messages_customer", "tenant_id", "customer_id", "created_at"),
        Index("ix_outbound_messages_status", "tenant_id", "status"),
    )

    customer_id: Mapped[uuid.UUID]
    channel: Mapped[OutboundChannel] = mapped_column(String(10))
    # An E.164 number or an email address, taken from the customer's identities.
    to_address: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # Why it is sent ("survey", "rule", ...) and the row it is about, for the channel's reports.
    purpose: Mapped[str] = mapped_column(String(30))
    ref_id: Mapped[uuid.UUID | None]
    status: Mapped[OutboundStatus] = mapped_column(String(10), default=OutboundStatus.PENDING)
    error: Mapped[str | None] = mapped_column(String(300))
