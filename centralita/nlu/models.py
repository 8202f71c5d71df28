"""Intent recognition: what a customer wants, in their words, mapped to a queue or self-service."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, utcnow


class IntentRoute(TenantEntity, Base):
    """Where a recognised intent goes: a queue (with the topic the agent sees), or a
    self-service action the IVR or bot performs itself."""

    __tablename__ = "nlu_intent_routes"
    __table_args__ = (UniqueConstraint("tenant_id", "intent"),)

    intent: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str | None] = mapped_column(String(100))
    # An action the channel performs without an agent, e.g. "ticket_status".
    self_service: Mapped[str | None] = mapped_column(String(100))
    # Words or phrases (any case, accents optional) that name the intent when no trained model
    # recognises the request.
    keywords: Mapped[list[str]] = mapped_column(default=list)
    # Skill names the work needs, on top of its queue's.
    skills: Mapped[list[str]] = mapped_column(default=list)


class TrainingExample(TenantEntity, Base):
    """One labelled request the tenant's model learns from (intent ``oos``: out of scope)."""

    __tablename__ = "nlu_examples"
    __table_args__ = (Index("ix_nlu_examples_tenant_id_intent", "tenant_id", "intent"),)

    text: Mapped[str] = mapped_column(String(1000))
    intent: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str | None] = mapped_column(String(5))


class ModelVersion(TenantEntity, Base):
    """A trained model; the tenant's newest version decides."""

    __tablename__ = "nlu_models"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    version: Mapped[int]
    # joblib bytes of centralita.nlu.classifier.IntentClassifier, only ever written by this code.
    blob: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    threshold: Mapped[float]
    embeddings: Mapped[bool]
    n_examples: Mapped[int]
    examples_by_intent: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Measured on examples held out of training: accuracy, macro_f1, in_scope_accuracy, ...
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    train_seconds: Mapped[float]
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingRun(TenantEntity, Base):
    """One request to train a model version, done by the trainer (``centralita/nlu/trainer.py``)
    off the request path; its progress is what the admin page's bar shows."""

    __tablename__ = "nlu_training_runs"

    # queued -> running -> succeeded | failed
    state: Mapped[str] = mapped_column(String(20), default="queued")
    threshold: Mapped[float]
    embeddings: Mapped[bool]
    # The step in progress ("n-grams", "embeddings", "model", ...) and how far it is.
    step: Mapped[str | None] = mapped_column(String(30))
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    # The version trained, once succeeded.
    model_version: Mapped[int | None]
    # Written with every progress report: a running run whose heartbeat stops was lost with
    # its process, and is trained again.
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
