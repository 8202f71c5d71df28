import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, TenantScoped, Timestamped


class AddressChannel(StrEnum):
    """Channels whose work arrives at an address the platform owns."""

    EMAIL = "email"
    VOICE = "voice"
    SMS = "sms"
    CHAT = "chat"


class ChannelAddress(TenantEntity, Base):
    """An address work arrives at (a mailbox, a phone number, a chat widget key), and so the
    tenant that work belongs to. One address belongs to one tenant across the whole platform."""

    __tablename__ = "channel_addresses"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    channel: Mapped[AddressChannel] = mapped_column(String(10))
    # Normalised: a lower-case email address, an E.164 number, a widget key.
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    # The queue work arriving here goes to unless steering chooses another.
    queue: Mapped[str | None] = mapped_column(String(100))
    # Channel-specific settings (greeting, signature, auto-reply, ...), read by the adapter.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ChannelReceipt(TenantScoped, Timestamped, Base):
    """A provider message already stored, so a provider's retry is recognised and stores nothing.

    Keyed by the provider's own id for one message or event (a Message-ID, a MessageSid, a
    CallSid with its step, a chat client's message id)."""

    __tablename__ = "channel_receipts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "interaction_id"],
            ["interactions.tenant_id", "interactions.id"],
            ondelete="CASCADE",
        ),
    )

    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    provider_ref: Mapped[str] = mapped_column(String(300), primary_key=True)
    interaction_id: Mapped[uuid.UUID]
    message_id: Mapped[uuid.UUID | None]
