"""Data lifecycle tables: a tenant's retention periods, its exports, and the erasures it ran."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, TenantScoped, Timestamped


class RetentionPolicy(TenantScoped, Timestamped, Base):
    """How many days a tenant keeps each kind of record; None keeps it forever (the default)."""

    __tablename__ = "lifecycle_retention"

    # One row per tenant: the tenant id is the whole key.
    # What was said in interactions (chat, SMS, voice notes, portal messages) and in closed tickets.
    conversations_days: Mapped[int | None] = mapped_column(Integer)
    # Recording links and their metadata on voice interactions.
    recordings_days: Mapped[int | None] = mapped_column(Integer)
    # Raw emails and their attachments (a ticket's files are its emails' attachments).
    emails_days: Mapped[int | None] = mapped_column(Integer)
    last_purge_at: Mapped[datetime | None]


class ExportStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"  # was ready; its archive has been deleted


class TenantExport(TenantEntity, Base):
    """One full export of a tenant's data, written to disk by a durable job."""

    __tablename__ = "lifecycle_exports"
    __table_args__ = (Index("ix_lifecycle_exports_created", "tenant_id", "created_at"),)

    status: Mapped[ExportStatus] = mapped_column(String(10), default=ExportStatus.PENDING)
    requested_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    requested_by: Mapped[str] = mapped_column(String(200))
    # The archive's name inside the configured export directory, once written.
    file_name: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # Rows written per table, and the number of emails.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(300))
    finished_at: Mapped[datetime | None]


class CustomerErasure(TenantEntity, Base):
    """The record that one customer was erased: who asked, when, and how many rows changed.

    It holds no erased data, only counts, so it can be kept for as long as the proof is needed;
    a second request for the same customer finds it and changes nothing."""

    __tablename__ = "lifecycle_erasures"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
        Index("ix_lifecycle_erasures_customer", "tenant_id", "customer_id", unique=True),
    )

    customer_id: Mapped[uuid.UUID]
    requested_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    requested_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(300))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
