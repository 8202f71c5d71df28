from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantScoped, utcnow


class IdempotencyRecord(TenantScoped, Base):
    """The first response to a request made with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_keys"

    operation: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
