import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class TargetKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class TargetStatus(StrEnum):
    ACTIVE = "active"  # the clock runs
    PAUSED = "paused"  # e.g. waiting for the customer, when the policy says so
    ACHIEVED = "achieved"
    BREACHED = "breached"  # the deadline passed; achieved_at may still come later
    CANCELLED = "cancelled"  # no longer applies (policy changed, ticket merged)


class BusinessCalendar(TenantEntity, Base):
    """Opening hours in a time zone, the public holidays of the tenant's country and region, and
    the tenant's own closures."""

    __tablename__ = "business_calendars"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64))
    # Weekday ("mon".."sun") to intervals ("09:00", "18:00"); an end at or before its start
    # crosses midnight.
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    public_holidays: Mapped[bool] = mapped_column(default=True)
    # Intervals {"start": iso, "end": iso, "label": "..."} when the tenant is closed.
    closures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class SlaPolicy(TenantEntity, Base):
    """Targets for the tickets that meet its conditions; the first matching policy by
    ``position`` applies."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        ForeignKeyConstraint(
            ["tenant_id", "calendar_id"], ["business_calendars.tenant_id", "business_calendars.id"]
        ),
        Index("ix_sla_policies_position", "tenant_id", "position"),
    )

    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Lists of accepted values, each optional: priorities, types, category_ids, segments,
    # value_tiers, channels. An empty policy matches every ticket.
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Priority ("P1".."P4") to target kind to minutes, e.g. {"P1": {"resolution": 240}}.
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # None: around the clock.
    calendar_id: Mapped[uuid.UUID | None]
    pause_on_pending_customer: Mapped[bool] = mapped_column(default=True)
    # [{"target": "resolution", "percent": 75, "notify": ["supervisors"],
    #   "raise_priority": false, "reassign_team_id": null}]
    escalations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class SlaTarget(TenantEntity, Base):
    """One target of one ticket: when its clock started, when it is due, and how it ended.

    Kept after it is achieved or breached: reports count them.
    """

    __tablename__ = "sla_targets"
    __table_args__ = (
        # Linked by table name: tickets build on SLAs, never the other way round.
        ForeignKeyConstraint(
            ["tenant_id", "ticket_id"], ["tickets.tenant_id", "tickets.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "policy_id"], ["sla_policies.tenant_id", "sla_policies.id"]
        ),
        Index("ix_sla_targets_ticket", "tenant_id", "ticket_id", "kind"),
        Index("ix_sla_targets_status_due", "tenant_id", "status", "due_at"),
        # Timers name a target by id alone (a job row carries no tenant).
        Index("ix_sla_targets_id", "id"),
    )

    ticket_id: Mapped[uuid.UUID]
    policy_id: Mapped[uuid.UUID]
    kind: Mapped[TargetKind] = mapped_column(String(20))
    status: Mapped[TargetStatus] = mapped_column(String(10), default=TargetStatus.ACTIVE)
    target_minutes: Mapped[int]
    started_at: Mapped[datetime]
    # Open time spent paused so far, added to the target when the deadline is computed.
    paused_seconds: Mapped[int] = mapped_column(default=0)
    paused_since: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    achieved_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    # How many of the policy's escalation steps for this target have fired.
    escalations_fired: Mapped[int] = mapped_column(SmallInteger, default=0)
