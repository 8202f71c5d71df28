import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class ContactChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    # An agent calls the customer: the campaign creates a callback for the campaign's queue.
    VOICE = "voice"
    # An automated call: the provider rings the customer and speaks the message (TwiML <Say>).
    VOICE_MESSAGE = "voice_msg"


class ConsentSource(StrEnum):
    API = "api"
    CSV = "csv"
    SMS_KEYWORD = "sms_keyword"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    ONE_CLICK = "one_click"


class ContactConsent(TenantEntity, Base):
    """Whether a customer may be contacted on one channel, and when and how that was decided.

    Without a row the customer's profile flags decide (``consent_sms``/``consent_email``); a
    row is written on every explicit change, and the change is also in the audit log.
    """

    __tablename__ = "contact_consents"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "customer_id", "channel"),
    )

    customer_id: Mapped[uuid.UUID]
    channel: Mapped[ContactChannel] = mapped_column(String(10))
    granted: Mapped[bool]
    source: Mapped[ConsentSource] = mapped_column(String(20))
    # The keyword, the address or the campaign the change came through.
    detail: Mapped[str | None] = mapped_column(String(300))
    changed_at: Mapped[datetime]


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


class Campaign(TenantEntity, Base):
    """A message to many customers, sent within allowed hours, paced and frequency-capped."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_status", "tenant_id", "status"),)

    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CampaignStatus] = mapped_column(String(10), default=CampaignStatus.DRAFT)
    # {"segment": ..., "value_tiers": [...], "tags": [...], "languages": [...]}; None: CSV list.
    segment_query: Mapped[dict[str, Any] | None]
    # {"sms": {"es": "...", "en": "..."}, "email": {...}, "voice": {...}}; email subjects apart.
    templates: Mapped[dict[str, Any]]
    subjects: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Channels tried after the preferred one, in this order.
    channels: Mapped[list[str]]
    fallback_language: Mapped[str] = mapped_column(String(5))
    # Weekday ("mon".."sun") -> [["09:00", "21:00"], ...] in the customer's local time.
    allowed_hours: Mapped[dict[str, Any]]
    # ["21:00", "09:00"]: never contacted in between, whatever the allowed hours say.
    quiet_hours: Mapped[list[str] | None]
    frequency_cap: Mapped[int]
    frequency_days: Mapped[int]
    pace_per_minute: Mapped[int | None]
    voice_queue: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    # Pacing: how many contacts were claimed in the minute that began at ``pace_window``.
    pace_window: Mapped[datetime | None]
    pace_count: Mapped[int] = mapped_column(default=0)
    # When the last contact reached its outcome (delivery reports may still refine results).
    finished_at: Mapped[datetime | None]


class ContactStatus(StrEnum):
    QUEUED = "queued"
    # Claimed by a dispatcher until ``due_at`` (its lease); a dead dispatcher's contacts are
    # claimed again then and sent with the same idempotency key.
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    OPTED_OUT = "opted_out"


class CampaignContact(TenantEntity, Base):
    """One customer a campaign reaches: the row dispatchers claim, and the result."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns.tenant_id", "campaigns.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
        # Also the index the results count a campaign's contacts by.
        UniqueConstraint("tenant_id", "campaign_id", "customer_id"),
        # Dispatchers of every tenant claim the due contacts across tenants, like jobs: the only
        # index not led by tenant_id, partial so that finished contacts cost nothing.
        Index(
            "ix_campaign_contacts_due",
            "due_at",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
        # The frequency cap counts a customer's recent campaign messages.
        Index("ix_campaign_contacts_customer_sent", "tenant_id", "customer_id", "sent_at"),
        # Whether a running campaign has contacts still to decide or to send (then it finishes).
        Index(
            "ix_campaign_contacts_open",
            "tenant_id",
            "campaign_id",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
    )

    campaign_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    status: Mapped[ContactStatus] = mapped_column(String(10), default=ContactStatus.QUEUED)
    due_at: Mapped[datetime]
    # Values the templates may use ({name}, CSV columns).
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel: Mapped[str | None] = mapped_column(String(10))
    to_address: Mapped[str | None] = mapped_column(String(320))
    # Why it was skipped or opted out; for an automated call, how it ended (answered, busy ...).
    reason: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    provider_ref: Mapped[str | None] = mapped_column(String(64))


class CampaignImport(TenantEntity, Base):
    """One uploaded CSV of targets: its progress, totals and the rows it refused."""

    __tablename__ = "campaign_imports"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns.tenant_id", "campaigns.id"],
            ondelete="CASCADE",
        ),
        Index("ix_campaign_imports_campaign", "tenant_id", "campaign_id", "created_at"),
    )

    campaign_id: Mapped[uuid.UUID]
    filename: Mapped[str] = mapped_column(String(200))
    total_bytes: Mapped[int]
    read_bytes: Mapped[int] = mapped_column(default=0)
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    finished: Mapped[bool] = mapped_column(default=False)
    # [{"row": 3, "errors": ["phone: ..."]}, ...] and rows taken with a remark (encoding, formula).
    row_errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    row_notes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    detail: Mapped[str | None] = mapped_column(Text)
