from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity


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
