import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, TenantScoped, Timestamped


class QuestionKind(StrEnum):
    YES_NO = "yes_no"
    SCALE = "scale"


class EvaluationStatus(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    DISPUTED = "disputed"


class QaForm(TenantEntity, Base):
    """One version of an evaluation form. A change makes a new version; evaluations keep theirs.

    ``sections``: ``[{"title", "questions": [{"id", "text", "kind", "scale_max", "weight",
    "auto_fail", "allow_na"}]}]``, validated by the schemas before it is stored.
    """

    __tablename__ = "qa_forms"
    __table_args__ = (UniqueConstraint("tenant_id", "name", "version"),)

    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    is_current: Mapped[bool] = mapped_column(default=True)
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class QaEvaluation(TenantEntity, Base):
    """An evaluator's scoring of one interaction against one form version."""

    __tablename__ = "qa_evaluations"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "form_id"], ["qa_forms.tenant_id", "qa_forms.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "interaction_id"], ["interactions.tenant_id", "interactions.id"]
        ),
        # Calibration compares evaluators on one interaction: each scores it once.
        UniqueConstraint("tenant_id", "interaction_id", "evaluator_user_id"),
        Index("ix_qa_evaluations_agent_created", "tenant_id", "agent_user_id", "created_at"),
    )

    form_id: Mapped[uuid.UUID]
    interaction_id: Mapped[uuid.UUID]
    agent_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    evaluator_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Question id -> the answer: true/false, a scale point, or "na".
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    score: Mapped[float] = mapped_column(Float)  # 0..1
    auto_failed: Mapped[bool] = mapped_column(default=False)
    coaching_notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[EvaluationStatus] = mapped_column(String(12), default=EvaluationStatus.SUBMITTED)
    agent_comment: Mapped[str | None] = mapped_column(Text)


class ScorecardSettings(TenantScoped, Timestamped, Base):
    """The weights a tenant gives each part of an agent's scorecard, and the AHT target."""

    __tablename__ = "qa_scorecard_settings"

    qa_weight: Mapped[float] = mapped_column(Float, default=0.5)
    aht_weight: Mapped[float] = mapped_column(Float, default=0.25)
    fcr_weight: Mapped[float] = mapped_column(Float, default=0.25)
    aht_target_seconds: Mapped[int] = mapped_column(default=300)
    # Occupancy scores best at its target and falls off either side: too high burns agents out.
    occupancy_weight: Mapped[float] = mapped_column(Float, default=0.0)
    occupancy_target: Mapped[float] = mapped_column(Float, default=0.85)
