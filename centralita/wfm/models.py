"""Published work plans: a week's schedule and its shifts, one row per agent and day."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class ScheduleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Schedule(TenantEntity, Base):
    """A week's schedule as the optimiser made it, with what it was asked to cover."""

    __tablename__ = "wfm_schedules"
    __table_args__ = (Index("ix_wfm_schedules_week", "tenant_id", "week_start"),)

    name: Mapped[str] = mapped_column(String(100))
    # The Monday the week starts on, in the tenant's time zone.
    week_start: Mapped[date]
    interval_minutes: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[ScheduleStatus] = mapped_column(String(10), default=ScheduleStatus.DRAFT)
    published_at: Mapped[datetime | None]
    # skill -> agents needed per interval of the week, as submitted
    requirement: Mapped[dict[str, Any]]
    required_hours: Mapped[float]
    agent_hours: Mapped[float]
    short_hours: Mapped[float]
    unassigned_hours: Mapped[float]


class Shift(TenantEntity, Base):
    """One agent's shift: on the phones from start to end except during the break."""

    __tablename__ = "wfm_shifts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "schedule_id"],
            ["wfm_schedules.tenant_id", "wfm_schedules.id"],
            ondelete="CASCADE",
        ),
        # A shift goes to a member of the tenant, never to a stranger.
        ForeignKeyConstraint(
            ["tenant_id", "agent_user_id"],
            ["memberships.tenant_id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
        Index("ix_wfm_shifts_schedule", "tenant_id", "schedule_id", "starts_at"),
        Index("ix_wfm_shifts_agent", "tenant_id", "agent_user_id", "starts_at"),
    )

    schedule_id: Mapped[uuid.UUID]
    agent_user_id: Mapped[uuid.UUID]
    template: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    break_starts_at: Mapped[datetime | None]
    break_ends_at: Mapped[datetime | None]
