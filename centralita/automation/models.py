import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, TenantScoped


class Rule(TenantEntity, Base):
    """When an event of type ``trigger`` happens and every condition holds, the actions run.

    ``conditions`` and ``actions`` are the validated JSON of :mod:`centralita.automation.schemas`.
    """

    __tablename__ = "automation_rules"
    __table_args__ = (
        # A default rule is seeded once per tenant; the tenant may change or switch it off.
        UniqueConstraint("tenant_id", "default_key"),
        Index("ix_automation_rules_trigger", "tenant_id", "trigger", "position"),
    )

    name: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(64))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)
    stop_processing: Mapped[bool] = mapped_column(default=False)
    default_key: Mapped[str | None] = mapped_column(String(50))
    # A rule on "schedule.fired" runs every so many minutes; next_run_at is its pending run
    # (a timer job due then that finds another time here is stale and does nothing).
    every_minutes: Mapped[int | None]
    next_run_at: Mapped[datetime | None]


class RuleRun(TenantEntity, Base):
    """A rule that fired on an event, and what each of its actions did: the execution log."""

    __tablename__ = "automation_rule_runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "rule_id"],
            ["automation_rules.tenant_id", "automation_rules.id"],
            ondelete="CASCADE",
        ),
        # A retried evaluation job cannot run a rule twice on one event.
        UniqueConstraint("tenant_id", "rule_id", "event_id"),
        Index("ix_automation_rule_runs_rule", "tenant_id", "rule_id", "created_at"),
    )

    rule_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(String(300))


class AutomationSetup(TenantScoped, Base):
    """A tenant's rules bookkeeping: default rules seeded (so deleting one does not bring it
    back), and the version of its rule set."""

    __tablename__ = "automation_setup"

    defaults_seeded_at: Mapped[datetime]
    # Bumped by every change to the tenant's rules: evaluators keep compiled rules until it moves.
    rules_version: Mapped[int] = mapped_column(default=1)
