import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class ValueTier(StrEnum):
    """How much the customer is worth to the client company; routing serves higher tiers first."""

    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"

    @property
    def rank(self) -> int:
        return list(ValueTier).index(self)


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    CRM = "crm"
    PIN = "pin"


class Customer(TenantEntity, Base):
    """One end customer of one tenant, recognised on every channel through its identities."""

    __tablename__ = "customers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "merged_into_id"], ["customers.tenant_id", "customers.id"]
        ),
        Index("ix_customers_tenant_search_name", "tenant_id", "search_name"),
    )

    display_name: Mapped[str] = mapped_column(String(200))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(50))
    language: Mapped[str | None] = mapped_column(String(5))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    segment: Mapped[str | None] = mapped_column(String(50))
    value_tier: Mapped[ValueTier] = mapped_column(String(20), default=ValueTier.STANDARD)
    lifetime_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    preferred_channel: Mapped[str | None] = mapped_column(String(20))
    consent_email: Mapped[bool] = mapped_column(default=False)
    consent_sms: Mapped[bool] = mapped_column(default=False)
    consent_marketing: Mapped[bool] = mapped_column(default=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    # Lower-case, accent-free name, so "Núñez" is found by "nunez".
    search_name: Mapped[str] = mapped_column(String(200), default="")
    merged_into_id: Mapped[uuid.UUID | None]


class CustomerIdentity(TenantEntity, Base):
    """A way to recognise a customer: email, E.164 phone, chat visitor, CRM id or PIN hash."""

    __tablename__ = "customer_identities"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "kind", "value"),
        Index("ix_customer_identities_customer", "tenant_id", "customer_id"),
    )

    customer_id: Mapped[uuid.UUID]
    kind: Mapped[IdentityKind] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(320))
    # Set when mail to this address bounced for good (a hard bounce): nothing more is sent to it.
    undeliverable_at: Mapped[datetime | None]
    undeliverable_reason: Mapped[str | None] = mapped_column(String(300))
