"""Business calendars and SLA policies: create, change, remove, each change audited.

A change that moves deadlines (a calendar's hours, zone, holidays or closures; a policy's
calendar, targets or escalations) recomputes the running targets it governs in the same
transaction. A change to a policy's conditions, position or activity decides which policy new
and changed tickets get; running targets stay with theirs until their ticket next changes.
"""

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.errors import Conflict, FieldError, InvalidInput, NotFound
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.sla.models import BusinessCalendar, SlaPolicy, SlaTarget
from centralita.sla.recompute import recompute_deadlines
from centralita.sla.schemas import (
    CalendarCreate,
    CalendarUpdate,
    PolicyCreate,
    PolicyUpdate,
)
from centralita.sla.service import policies_by_position
from centralita.sla.ticket_tables import categories, existing_ids, teams
from centralita.tenancy.models import Tenant

CALENDAR_TIMING = frozenset({"time_zone", "weekly_hours", "public_holidays", "closures"})
POLICY_TIMING = frozenset({"calendar_id", "targets", "escalations"})


async def _flush_unique_name(session: AsyncSession, kind: str, name: str, code: str) -> None:
    # Checked at the flush rather than by a query first, so the loser of a race also gets a 409.
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"A {kind} named {name!r} already exists", code) from None


# --- calendars -------------------------------------------------------------------------------


def _calendar_columns(data: CalendarCreate | CalendarUpdate) -> dict[str, Any]:
    """The sent fields as JSON column values: intervals as lists, closure times as ISO text."""
    return data.model_dump(mode="json", exclude_unset=True)


async def list_calendars(session: AsyncSession) -> list[BusinessCalendar]:
    query = select(BusinessCalendar).order_by(BusinessCalendar.name)
    return list((await session.execute(query)).scalars())


async def get_calendar(session: AsyncSession, calendar_id: uuid.UUID) -> BusinessCalendar:
    calendar = (
        await session.execute(select(BusinessCalendar).where(BusinessCalendar.id == calendar_id))
    ).scalar_one_or_none()
    if calendar is None:
        raise NotFound("No such business calendar")
    return calendar


async def create_calendar(
    session: AsyncSession, actor: Actor, tenant: Tenant, data: CalendarCreate
) -> BusinessCalendar:
    columns = _calendar_columns(data)
    columns["time_zone"] = data.time_zone or tenant.time_zone
    calendar = BusinessCalendar(tenant_id=tenant.id, **columns)
    session.add(calendar)
    await _flush_unique_name(session, "business calendar", data.name, "calendar-exists")
    entity = ("business_calendar", calendar.id)
    record_audit(session, tenant.id, actor, "business_calendar.created", entity, after=columns)
    return calendar


async def update_calendar(
    session: AsyncSession,
    actor: Actor,
    tenant: Tenant,
    calendar_id: uuid.UUID,
    data: CalendarUpdate,
) -> BusinessCalendar:
    calendar = await get_calendar(session, calendar_id)
    before, after = apply_changes(calendar, _calendar_columns(data))
    if not after:
        return calendar
    await _flush_unique_name(session, "business calendar", calendar.name, "calendar-exists")
    entity = ("business_calendar", calendar.id)
    record_audit(
        session, tenant.id, actor, "business_calendar.updated", entity, before=before, after=after
    )
    if CALENDAR_TIMING & after.keys():
        await recompute_deadlines(session, tenant, calendar_id=calendar.id)
    return calendar


async def delete_calendar(
    session: AsyncSession, actor: Actor, tenant: Tenant, calendar_id: uuid.UUID
) -> None:
    calendar = await get_calendar(session, calendar_id)
    in_use = await session.scalar(
        select(SlaPolicy.id).where(SlaPolicy.calendar_id == calendar.id).limit(1)
    )
    if in_use is not None:
        raise Conflict("An SLA policy uses this calendar; give it another first", "calendar-in-use")
    await session.delete(calendar)
    entity = ("business_calendar", calendar.id)
    record_audit(
        session,
        tenant.id,
        actor,
        "business_calendar.deleted",
        entity,
        before={"name": calendar.name},
    )


# --- policies --------------------------------------------------------------------------------


async def list_policies(session: AsyncSession) -> list[SlaPolicy]:
    """In the order they are tried: by position."""
    return await policies_by_position(session)


async def get_policy(session: AsyncSession, policy_id: uuid.UUID) -> SlaPolicy:
    policy = (
        await session.execute(select(SlaPolicy).where(SlaPolicy.id == policy_id))
    ).scalar_one_or_none()
    if policy is None:
        raise NotFound("No such SLA policy")
    return policy


async def _reference_errors(
    session: AsyncSession, tenant: Tenant, data: PolicyCreate | PolicyUpdate
) -> list[FieldError]:
    """The calendar, categories and teams a policy names that are not this tenant's."""
    errors: list[FieldError] = []
    if data.calendar_id is not None:
        found = await session.execute(
            select(BusinessCalendar.id).where(BusinessCalendar.id == data.calendar_id)
        )
        if found.scalar_one_or_none() is None:
            errors.append(FieldError("body.calendar_id", "No such business calendar"))
    category_ids = (data.conditions.category_ids if data.conditions else None) or []
    known = await existing_ids(session, categories, tenant.id, category_ids)
    errors += [
        FieldError(f"body.conditions.category_ids.{index}", "No such ticket category")
        for index, category_id in enumerate(category_ids)
        if category_id not in known
    ]
    steps = data.escalations or []
    team_ids = {step.reassign_team_id for step in steps if step.reassign_team_id is not None}
    known = await existing_ids(session, teams, tenant.id, team_ids)
    errors += [
        FieldError(f"body.escalations.{index}.reassign_team_id", "No such team")
        for index, step in enumerate(steps)
        if step.reassign_team_id is not None and step.reassign_team_id not in known
    ]
    return errors


def _policy_columns(data: PolicyCreate | PolicyUpdate) -> dict[str, Any]:
    """The sent fields as column values (a null position on creation means "at the end")."""
    sent: dict[str, Any] = {name: getattr(data, name) for name in data.model_fields_set}
    if sent.get("position", 0) is None:
        del sent["position"]
    if sent.get("conditions") is not None:
        sent["conditions"] = sent["conditions"].model_dump(mode="json", exclude_none=True)
    if sent.get("targets") is not None:
        by_priority = sent["targets"].model_dump(mode="json", exclude_none=True)
        sent["targets"] = {priority: kinds for priority, kinds in by_priority.items() if kinds}
    if sent.get("escalations") is not None:
        sent["escalations"] = [step.model_dump(mode="json") for step in sent["escalations"]]
    return sent


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors)


async def create_policy(
    session: AsyncSession, actor: Actor, tenant: Tenant, data: PolicyCreate
) -> SlaPolicy:
    _refuse(await _reference_errors(session, tenant, data))
    columns = {
        "conditions": {},
        "targets": {},
        "escalations": [],
        **_policy_columns(data),
    }
    if "position" not in columns:
        last = await session.scalar(select(func.max(SlaPolicy.position)))
        columns["position"] = 0 if last is None else last + 1
    policy = SlaPolicy(tenant_id=tenant.id, **columns)
    session.add(policy)
    await _flush_unique_name(session, "SLA policy", data.name, "policy-exists")
    record_audit(
        session, tenant.id, actor, "sla_policy.created", ("sla_policy", policy.id), after=columns
    )
    return policy


async def update_policy(
    session: AsyncSession, actor: Actor, tenant: Tenant, policy_id: uuid.UUID, data: PolicyUpdate
) -> SlaPolicy:
    policy = await get_policy(session, policy_id)
    _refuse(await _reference_errors(session, tenant, data))
    before, after = apply_changes(policy, _policy_columns(data))
    if not after:
        return policy
    await _flush_unique_name(session, "SLA policy", policy.name, "policy-exists")
    entity = ("sla_policy", policy.id)
    record_audit(
        session, tenant.id, actor, "sla_policy.updated", entity, before=before, after=after
    )
    if POLICY_TIMING & after.keys():
        await recompute_deadlines(session, tenant, policy_id=policy.id)
    return policy


async def delete_policy(
    session: AsyncSession, actor: Actor, tenant: Tenant, policy_id: uuid.UUID
) -> None:
    """Only a policy no ticket has had a target under: reports keep the targets of the others."""
    policy = await get_policy(session, policy_id)
    used = await session.scalar(
        select(SlaTarget.id).where(SlaTarget.policy_id == policy.id).limit(1)
    )
    if used is not None:
        raise Conflict(
            "Tickets have had targets under this policy; deactivate it instead", "policy-in-use"
        )
    await session.delete(policy)
    entity = ("sla_policy", policy.id)
    record_audit(
        session, tenant.id, actor, "sla_policy.deleted", entity, before={"name": policy.name}
    )
