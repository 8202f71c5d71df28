import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from centralita.lifecycle.models import ExportStatus
from centralita.schemas import Read, Strict

# A century: longer than any legal retention duty, short enough that a cut-off date exists.
MAX_RETENTION_DAYS = 36_500

RetentionDays = Annotated[
    int | None,
    Field(
        default=None,
        ge=1,
        le=MAX_RETENTION_DAYS,
        strict=True,
        description="Days to keep; null keeps forever.",
    ),
]


class RetentionUpdate(Strict):
    """The whole policy: a period left out or null is kept forever."""

    conversations_days: RetentionDays = None
    recordings_days: RetentionDays = None
    emails_days: RetentionDays = None


class RetentionOut(Read):
    conversations_days: int | None
    recordings_days: int | None
    emails_days: int | None
    last_purge_at: datetime | None


class ExportOut(Read):
    id: uuid.UUID
    status: ExportStatus
    requested_by: str
    size_bytes: int | None
    counts: dict[str, Any]
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class ErasureIn(Strict):
    reason: str | None = Field(
        default=None,
        max_length=300,
        description="Why (a request reference, for instance); never the erased data itself.",
    )


class ErasureOut(Read):
    id: uuid.UUID
    customer_id: uuid.UUID
    requested_by: str
    reason: str | None
    counts: dict[str, Any]
    created_at: datetime
