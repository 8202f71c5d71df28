"""The audit log: one call records who changed what, with the values before and after.

Values may hold UUIDs, datetimes and enums; they are stored as their JSON forms.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.paging import Slice, paginate
from centralita.events.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, an API token, or the system itself (label only)."""

    label: str
    user_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None


SYSTEM = Actor(label="system")


def apply_changes(row: Any, sent: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set the sent values that differ from the row's; returns (before, after) of what changed,
    ready for :func:`record_audit`."""
    after = {name: value for name, value in sent.items() if getattr(row, name) != value}
    before = {name: getattr(row, name) for name in after}
    for name, value in after.items():
        setattr(row, name, value)
    return before, after


def record_audit(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: Actor,
    action: str,
    entity: tuple[str, uuid.UUID | str],
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entity_type, entity_id = entity
    entry = AuditEntry(
        tenant_id=tenant_id,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=to_jsonable_python(before),
        after=to_jsonable_python(after),
    )
    session.add(entry)
    return entry


async def audit_page(session: AsyncSession, cursor: str | None, limit: int) -> Slice[AuditEntry]:
    """The scoped tenant's audit log, newest first."""
    return await paginate(
        session, select(AuditEntry), (AuditEntry.at, AuditEntry.id), cursor=cursor, limit=limit
    )
