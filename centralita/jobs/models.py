import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, utcnow


class JobKind(StrEnum):
    """Every kind of job, in one place, so each has exactly one consumer that can be found."""

    # The routing engine reconciles its memory with the database for one interaction, agent or
    # queue that changed (ref_id names it).
    ROUTING_WORK = "routing.work"
    ROUTING_AGENT = "routing.agent"
    ROUTING_QUEUE = "routing.queue"
    # An SLA target (ref_id) reaches its next escalation step or its deadline.
    SLA_ESCALATION = "sla.escalation"
    # An article was inserted into a reply on a ticket (ref_id: the insertion event): check
    # whether the ticket was resolved and stayed so.
    KNOWLEDGE_RESOLUTION = "knowledge.resolution"


class Job(Base):
    """Something to do once ``due_at`` has come: a row, so a crash or a restart cannot lose it.

    Jobs belong to the platform's workers rather than to one tenant (one worker serves every
    tenant); ``ref_id`` names the row the job is about, whose tenant it belongs to.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_kind_due", "kind", "due_at"),
        # A target's pending timers are replaced whenever its deadline moves.
        Index("ix_jobs_kind_ref", "kind", "ref_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(50))
    ref_id: Mapped[uuid.UUID | None]
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
