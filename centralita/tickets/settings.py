"""A tenant's ticket settings: the number prefix and sequence, the priority matrix, reopening.

The row is created on first use. Numbers are taken with ``UPDATE ... RETURNING`` in the creating
transaction: the row lock makes concurrent creations wait for each other, and a creation that
rolls back gives its number back, so numbers have no gaps and no repeats.
"""

import re
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import Conflict
from centralita.events.service import Actor, record_audit
from centralita.tenancy.models import Tenant
from centralita.tickets.models import DEFAULT_PRIORITY_MATRIX, Level, Priority, TicketSettings
from centralita.tickets.setup_schemas import SettingsUpdate

MAX_PREFIX_INITIALS = 4


def default_prefix(slug: str) -> str:
    """The initials of the slug's words ("banco-hispano" → "BH"), or its first two characters
    when it is one word ("acme" → "AC")."""
    words = [word for word in re.split(r"[^a-z0-9]+", slug.lower()) if word]
    initials = "".join(word[0] for word in words)[:MAX_PREFIX_INITIALS]
    if len(initials) < 2:
        initials = "".join(words)[:2]
    prefix = initials.upper()
    # A prefix starts with a letter, so "BH-12" never reads as arithmetic in a spreadsheet.
    return prefix if prefix[:1].isalpha() else f"T{prefix}"[:MAX_PREFIX_INITIALS]


def reference(prefix: str, number: int) -> str:
    return f"{prefix}-{number}"


def effective_matrix(settings: TicketSettings) -> dict[str, dict[str, str]]:
    return settings.priority_matrix or DEFAULT_PRIORITY_MATRIX


def priority_for(settings: TicketSettings, impact: Level, urgency: Level) -> Priority:
    return Priority(effective_matrix(settings)[impact][urgency])


def _defaults(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant_id": tenant.id,
        "prefix": default_prefix(tenant.slug),
        "next_number": 1,
        "priority_matrix": {},
        "reopen_days": 7,
    }


async def _insert_defaults(session: AsyncSession, tenant: Tenant) -> None:
    """Create the row unless it exists; two racing creators both go on with the one row."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(TicketSettings).values(**_defaults(tenant)).on_conflict_do_nothing()
    )


async def ticket_settings(session: AsyncSession, tenant: Tenant) -> TicketSettings:
    """The tenant's settings, read afresh; the defaults, unsaved, until the first ticket."""
    found = await session.get(TicketSettings, tenant.id, populate_existing=True)
    return found or TicketSettings(**_defaults(tenant))


async def tenant_with_settings(
    session: AsyncSession, tenant_id: uuid.UUID
) -> tuple[Tenant, TicketSettings]:
    """The tenant and its settings (read afresh, as :func:`ticket_settings`) in one round trip."""
    query = (
        select(Tenant, TicketSettings)
        .outerjoin(TicketSettings, TicketSettings.tenant_id == Tenant.id)
        .where(Tenant.id == tenant_id)
        .execution_options(populate_existing=True)
    )
    tenant, found = (await session.execute(query)).one()
    return tenant, found or TicketSettings(**_defaults(tenant))


async def take_number(session: AsyncSession, tenant: Tenant) -> int:
    """The next ticket number, held (row-locked) until this transaction ends."""
    bump = (
        update(TicketSettings)
        .values(next_number=TicketSettings.next_number + 1)
        .returning(TicketSettings.next_number)
        .execution_options(synchronize_session=False)
    )
    taken = (await session.execute(bump)).scalar_one_or_none()
    if taken is None:
        await _insert_defaults(session, tenant)
        taken = (await session.execute(bump)).scalar_one()
    return int(taken) - 1


async def update_settings(
    session: AsyncSession, actor: Actor, tenant: Tenant, data: SettingsUpdate
) -> TicketSettings:
    await _insert_defaults(session, tenant)
    locked = select(TicketSettings).with_for_update().execution_options(populate_existing=True)
    settings = (await session.execute(locked)).scalar_one()
    sent = data.model_dump(mode="json", exclude_unset=True)
    changes = {name: value for name, value in sent.items() if getattr(settings, name) != value}
    if "prefix" in changes and settings.next_number > 1:
        raise Conflict(
            "The prefix cannot change once tickets are numbered: their numbers are already quoted",
            "prefix-in-use",
        )
    before = {name: getattr(settings, name) for name in changes}
    for name, value in changes.items():
        setattr(settings, name, value)
    if changes:
        record_audit(
            session,
            tenant.id,
            actor,
            "ticket_settings.updated",
            ("ticket_settings", tenant.id),
            before,
            changes,
        )
    await session.flush()
    return settings
