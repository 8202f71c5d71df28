import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, TenantScoped, Timestamped, utcnow
from centralita.routing.engine import Load, Presence

LOAD_KINDS = tuple(Load)


class Skill(TenantEntity, Base):
    """Something an agent can do for one client company, such as "tarjetas" or "inglés"."""

    __tablename__ = "skills"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(300))


class Queue(TenantEntity, Base):
    """Where a tenant's work waits; ``name`` is what an interaction's ``queue`` refers to."""

    __tablename__ = "queues"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("sl_target_percent BETWEEN 1 AND 100", name="sl_target_percent"),
        CheckConstraint("sl_threshold_seconds > 0", name="sl_threshold_seconds"),
        CheckConstraint("offer_timeout_seconds > 0", name="offer_timeout_seconds"),
    )

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(300))
    channels: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str | None] = mapped_column(String(5))
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    sl_target_percent: Mapped[int] = mapped_column(SmallInteger, default=80)
    sl_threshold_seconds: Mapped[int] = mapped_column(default=20)
    # Steps of OverflowStep fields: after_seconds, min_level, extra_queue_ids.
    overflow: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    offer_timeout_seconds: Mapped[int] = mapped_column(default=15)
    auto_accept: Mapped[bool] = mapped_column(default=False)
    # Above this estimated wait a caller is offered a callback instead of waiting.
    callback_threshold_seconds: Mapped[int | None]
    # Weekday ("mon".."sun") to opening intervals ("08:00", "20:00") in the tenant time zone;
    # empty means always open.
    business_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Work on a channel with no queue named goes to the channel's default queue.
    is_default: Mapped[bool] = mapped_column(default=False)


class QueueSkill(TenantScoped, Base):
    __tablename__ = "queue_skills"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "queue_id"], ["queues.tenant_id", "queues.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "skill_id"], ["skills.tenant_id", "skills.id"], ondelete="CASCADE"
        ),
        CheckConstraint("min_level BETWEEN 1 AND 5", name="min_level"),
    )

    queue_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    skill_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    min_level: Mapped[int] = mapped_column(SmallInteger)


class AgentSkill(TenantScoped, Base):
    __tablename__ = "agent_skills"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "skill_id"], ["skills.tenant_id", "skills.id"], ondelete="CASCADE"
        ),
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    skill_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger)


def _capacity_checks() -> tuple[CheckConstraint, ...]:
    """Each load stays within its capacity, and a call is exclusive both ways."""
    others = " + ".join(f"load_{kind}" for kind in LOAD_KINDS if kind != Load.VOICE)
    checks = [
        CheckConstraint(f"load_{kind} >= 0 AND load_{kind} <= capacity_{kind}", name=f"{kind}")
        for kind in LOAD_KINDS
    ]
    checks.append(CheckConstraint(f"load_voice = 0 OR {others} = 0", name="voice_exclusive"))
    checks.append(CheckConstraint("capacity_voice BETWEEN 0 AND 1", name="voice_single"))
    checks.append(CheckConstraint("occupancy_cap > 0 AND occupancy_cap <= 1", name="occupancy"))
    return tuple(checks)


class AgentProfile(Base, Timestamped):
    """One agent of the shared pool: presence, capacity and current load across every tenant.

    The load columns count the work the agent holds (offered, active or in wrap-up); the check
    constraints make the database refuse an assignment beyond capacity, whatever process tries.
    """

    __tablename__ = "agent_profiles"
    __table_args__ = _capacity_checks()

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    presence: Mapped[Presence] = mapped_column(String(10), default=Presence.OFFLINE)
    presence_reason: Mapped[str | None] = mapped_column(String(50))
    presence_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    occupancy_cap: Mapped[float] = mapped_column(default=0.85)
    wrap_up_seconds: Mapped[int] = mapped_column(default=60)
    capacity_voice: Mapped[int] = mapped_column(SmallInteger, default=1)
    capacity_chat: Mapped[int] = mapped_column(SmallInteger, default=3)
    capacity_email: Mapped[int] = mapped_column(SmallInteger, default=5)
    capacity_sms: Mapped[int] = mapped_column(SmallInteger, default=5)
    capacity_task: Mapped[int] = mapped_column(SmallInteger, default=5)
    load_voice: Mapped[int] = mapped_column(SmallInteger, default=0)
    load_chat: Mapped[int] = mapped_column(SmallInteger, default=0)
    load_email: Mapped[int] = mapped_column(SmallInteger, default=0)
    load_sms: Mapped[int] = mapped_column(SmallInteger, default=0)
    load_task: Mapped[int] = mapped_column(SmallInteger, default=0)


class Outcome(StrEnum):
    PENDING = "pending"  # offered, not yet answered
    ACCEPTED = "accepted"  # the agent holds it (active or in wrap-up)
    REJECTED = "rejected"
    EXPIRED = "expired"  # offer not answered in time
    WITHDRAWN = "withdrawn"  # the customer left, or the work was closed elsewhere
    TRANSFERRED = "transferred"
    COMPLETED = "completed"


class Assignment(TenantEntity, Base):
    """One offer of one interaction to one agent, and what became of it.

    At most one assignment per interaction is live (not released): a partial unique index, so no
    interaction is ever held by two agents.
    """

    __tablename__ = "assignments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "interaction_id"],
            ["interactions.tenant_id", "interactions.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ux_assignments_live_interaction",
            "tenant_id",
            "interaction_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index(
            "ix_assignments_live_agent",
            "agent_user_id",
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_assignments_tenant_offered", "tenant_id", "offered_at"),
    )

    interaction_id: Mapped[uuid.UUID]
    agent_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    queue_id: Mapped[uuid.UUID | None]
    load: Mapped[Load] = mapped_column(String(10))
    outcome: Mapped[Outcome] = mapped_column(String(12), default=Outcome.PENDING)
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
