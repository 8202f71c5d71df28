"""Reporting tables: facts written as things happen, and the 15-minute aggregates folded from them.

Facts reference interactions and users by id only, without foreign keys: a report must survive
the erasure or archiving of the rows it counts, and writing a fact must never fail because of
them.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, TenantScoped, Timestamped, new_id

INTERVAL_MINUTES = 15
# Facts not yet counted in the aggregates; the same expression in the index and in the fold's
# query, so the planner proves the partial index applies.
UNFOLDED = text("NOT folded")
# Work that never waited in a queue (an agent's outbound call) is counted under this queue name.
NO_QUEUE = ""


class FactKind(StrEnum):
    OFFERED = "offered"  # entered a queue for the first time
    ANSWERED = "answered"  # first accepted by an agent
    ABANDONED = "abandoned"  # the customer left while waiting
    TRANSFERRED = "transferred"  # an agent sent it back to a queue
    ENDED = "ended"  # the conversation ended (wrap-up may follow)
    HANDLED = "handled"  # the agent finished with it: conversation and wrap-up both over


class InteractionFact(TenantEntity, Base):
    """One thing that happened to one interaction, written in the transaction that did it.

    ``anchor_at`` is when the work entered its queue (or began, if it never queued): queue
    measures count every fact of a contact in the interval it was offered in, as the live
    wallboard does, so both give the same numbers for the same interval.
    """

    __tablename__ = "reporting_facts"
    __table_args__ = (
        # Only the facts still to fold, a handful, however many millions are folded.
        Index(
            "ix_reporting_facts_unfolded",
            "tenant_id",
            "id",
            sqlite_where=UNFOLDED,
            postgresql_where=UNFOLDED,
        ),
        Index("ix_reporting_facts_kind_at", "tenant_id", "kind", "at"),
        Index("ix_reporting_facts_customer_at", "tenant_id", "customer_id", "at"),
    )

    interaction_id: Mapped[uuid.UUID]
    kind: Mapped[FactKind] = mapped_column(String(12))
    at: Mapped[datetime]
    anchor_at: Mapped[datetime]
    queue: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(10))
    agent_user_id: Mapped[uuid.UUID | None]
    customer_id: Mapped[uuid.UUID | None]
    topic: Mapped[str | None] = mapped_column(String(100))
    # The wait (answered, abandoned) or the handle time (handled) in seconds.
    seconds: Mapped[float | None] = mapped_column(Float)
    # Whether this fact is already counted in ``reporting_intervals``.
    folded: Mapped[bool] = mapped_column(default=False)


class IntervalStat(TenantScoped, Base):
    """Counters of one queue and channel over one 15-minute interval (UTC-aligned, which is also
    aligned in every real time zone: all offsets are whole quarters of an hour)."""

    __tablename__ = "reporting_intervals"

    interval_start: Mapped[datetime] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    answered_within: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    short_abandoned: Mapped[int] = mapped_column(Integer, default=0)
    transferred: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    wait_answered_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    handle_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class AgentIntervalStat(TenantScoped, Base):
    """Counters of one agent over one 15-minute interval, by when the work was finished."""

    __tablename__ = "reporting_agent_intervals"

    interval_start: Mapped[datetime] = mapped_column(primary_key=True)
    agent_user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handle_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    transferred: Mapped[int] = mapped_column(Integer, default=0)


class ReportSettings(TenantScoped, Timestamped, Base):
    """How a tenant wants its numbers: the variants KPI.md lets it choose, and what clients see."""

    __tablename__ = "reporting_settings"

    # One row per tenant: the tenant id is the whole key.
    short_abandon_seconds: Mapped[int] = mapped_column(Integer, default=5)
    fcr_days: Mapped[int] = mapped_column(Integer, default=7)
    cost_per_agent_hour: Mapped[float | None] = mapped_column(Numeric(10, 2, asdecimal=False))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    show_agent_names_to_clients: Mapped[bool] = mapped_column(default=False)
    # Email last week's report to the tenant's client managers every Monday morning.
    weekly_report: Mapped[bool] = mapped_column(default=False)


class ReportDelivery(TenantEntity, Base):
    """One scheduled report for one recipient: written with the job that sends it, so a crash
    or an SMTP outage delays the email but never loses it; ``sent_at`` makes a retry harmless."""

    __tablename__ = "reporting_deliveries"
    __table_args__ = (Index("ix_reporting_deliveries_id", "id"),)

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(5))
    date_from: Mapped[date]
    date_to: Mapped[date]
    sent_at: Mapped[datetime | None]


class PresenceFact(Base):
    """An agent's presence from ``at`` on, written with each change (``routing.work``).

    Not a tenant's row: an agent of the provider's pool serves several tenants with one presence.
    """

    __tablename__ = "reporting_presence_facts"
    __table_args__ = (Index("ix_reporting_presence_facts_user_at", "user_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    presence: Mapped[str] = mapped_column(String(10))
