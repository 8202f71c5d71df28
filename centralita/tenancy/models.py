import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, Timestamped, new_id


class Tenant(Base, Timestamped):
    """A client company served from this installation. Not tenant-scoped itself: it is the scope."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_locale: Mapped[str] = mapped_column(String(5))
    time_zone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(10))
    is_active: Mapped[bool] = mapped_column(default=True)
