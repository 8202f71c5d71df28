import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


class Survey(TenantEntity, Base):
    """What to ask after which contacts, how often, and what counts as a low answer."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    ask_csat: Mapped[bool] = mapped_column(default=True)
    ask_nps: Mapped[bool] = mapped_column(default=False)
    # Extra questions: [{key, kind: scale|choice|text, label: {es, en}, choices?, min?, max?}].
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The heading of the form, per language.
    title: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Which contacts it follows; empty means every queue (or channel).
    queues: Mapped[list[str]] = mapped_column(default=list)
    channels: Mapped[list[str]] = mapped_column(default=list)
    sampling_percent: Mapped[int] = mapped_column(SmallInteger, default=100)
    # A customer asked once is not asked again for this many days (by any survey of the tenant).
    cool_off_days: Mapped[int] = mapped_column(SmallInteger, default=30)
    link_valid_hours: Mapped[int] = mapped_column(SmallInteger, default=72)
    # An answer at or below these is low (and may start a rescue, see the default rules).
    low_csat: Mapped[int] = mapped_column(SmallInteger, default=2)
    low_nps: Mapped[int] = mapped_column(SmallInteger, default=6)
    position: Mapped[int] = mapped_column(default=100)


class SurveyInvitation(TenantEntity, Base):
    """One customer asked about one contact; its link works once, until ``expires_at``."""

    __tablename__ = "survey_invitations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "survey_id"], ["surveys.tenant_id", "surveys.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "interaction_id"], ["interactions.tenant_id", "interactions.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
        # One survey per contact, however often the rule runs.
        UniqueConstraint("tenant_id", "interaction_id"),
        Index("ix_survey_invitations_customer", "tenant_id", "customer_id", "created_at"),
    )

    survey_id: Mapped[uuid.UUID]
    interaction_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID | None]
    queue: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(5))
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class SurveyResponse(TenantEntity, Base):
    """An answer, stored against the contact, its agent, its queue and the customer."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invitation_id"],
            ["survey_invitations.tenant_id", "survey_invitations.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "survey_id"], ["surveys.tenant_id", "surveys.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "invitation_id"),
        Index("ix_survey_responses_customer", "tenant_id", "customer_id", "created_at"),
        Index("ix_survey_responses_agent", "tenant_id", "agent_id", "created_at"),
        Index("ix_survey_responses_queue", "tenant_id", "queue", "created_at"),
    )

    invitation_id: Mapped[uuid.UUID]
    survey_id: Mapped[uuid.UUID]
    interaction_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID | None]
    queue: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(10))
    csat: Mapped[int | None] = mapped_column(SmallInteger)
    nps: Mapped[int | None] = mapped_column(SmallInteger)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    # The language the customer answered in (the form's), so comments show it.
    language: Mapped[str] = mapped_column(String(5))
    low: Mapped[bool] = mapped_column(default=False)
