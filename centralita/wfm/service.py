"""Workforce management rules over the tenant's data: staffing, schedules made by the optimiser
and published to agents, and live adherence (forecasts are in ``demand``)."""

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.errors import InvalidInput, NotFound
from centralita.events.bus import Event, emit, supervisors_topic, user_topic
from centralita.events.service import Actor, record_audit
from centralita.identity.models import Membership, User
from centralita.routing.models import AgentProfile
from centralita.tenancy.models import Tenant
from centralita.wfm import schedule, schemas
from centralita.wfm.models import Schedule, ScheduleStatus, Shift
from centralita.wfm.staffing import StaffingTarget, staff_intervals

MINUTES_PER_DAY = 24 * 60
WORKING_PRESENCES = {"available", "wrap_up"}


def staffing(request: schemas.StaffingRequest) -> schemas.StaffingOut:
    target = request.target
    try:
        result = staff_intervals(
            [i.calls for i in request.intervals],
            [i.aht_s for i in request.intervals],
            request.interval_minutes * 60,
            StaffingTarget(
                service_level=target.service_level,
                threshold_seconds=target.threshold_s,
                asa_seconds=target.asa_s,
                max_occupancy=target.max_occupancy,
                shrinkage=target.shrinkage,
                patience_seconds=target.patience_s,
            ),
        )
    except ValueError as exc:
        raise InvalidInput.on_field("body.target", str(exc)) from None
    return schemas.StaffingOut(
        intervals=[
            schemas.IntervalStaffingOut(
                load_erlangs=load, agents=agents, scheduled_agents=scheduled, binding=binding
            )
            for load, agents, scheduled, binding in zip(
                result.load_erlangs,
                result.agents,
                result.scheduled_agents,
                result.binding,
                strict=True,
            )
        ],
        peak_agents=max(result.scheduled_agents),
        agent_hours=sum(result.scheduled_agents) * request.interval_minutes / 60,
    )


async def create_schedule(
    session: AsyncSession, actor: Actor, tenant: Tenant, data: schemas.ScheduleCreate
) -> Schedule:
    """Optimise a week's schedule and keep it as a draft."""
    if data.week_start.weekday() != 0:
        raise InvalidInput.on_field("body.week_start", "A schedule's week starts on a Monday")
    users = {a.user_id for a in data.agents}
    if len(users) != len(data.agents):
        raise InvalidInput.on_field("body.agents", "An agent appears twice")
    members = set(
        (
            await session.scalars(select(Membership.user_id).where(Membership.user_id.in_(users)))
        ).all()
    )
    if strangers := users - members:
        raise InvalidInput.on_field(
            "body.agents", f"Not members of this tenant: {', '.join(sorted(map(str, strangers)))}"
        )
    templates = [
        schedule.ShiftTemplate(
            t.name, t.length_minutes, t.start_times, t.break_minutes, t.break_after_minutes
        )
        for t in data.templates
    ]
    contracts = [
        schedule.AgentContract(
            str(a.user_id),
            frozenset(a.skills),
            a.min_hours,
            a.max_hours,
            a.max_days,
            frozenset(a.days_off),
        )
        for a in data.agents
    ]
    try:
        # The optimiser holds the CPU for up to seconds: off the event loop.
        week = await asyncio.to_thread(
            schedule.build_schedule, data.requirement, data.interval_minutes, templates, contracts
        )
    except ValueError as exc:
        raise InvalidInput.on_field("body", str(exc)) from None
    row = Schedule(
        name=data.name,
        week_start=data.week_start,
        interval_minutes=data.interval_minutes,
        status=ScheduleStatus.DRAFT,
        requirement=dict(data.requirement),
        required_hours=week.required_hours,
        agent_hours=week.agent_hours,
        short_hours=week.short_hours,
        unassigned_hours=week.unassigned_hours,
    )
    session.add(row)
    await session.flush()
    zone = ZoneInfo(tenant.time_zone)
    for shift in week.shifts:
        day = data.week_start + timedelta(days=shift.day)
        session.add(
            Shift(
                schedule_id=row.id,
                agent_user_id=uuid.UUID(shift.agent),
                template=shift.template,
                starts_at=local_moment(day, shift.start_minute, zone),
                ends_at=local_moment(day, shift.end_minute, zone),
                break_starts_at=None
                if shift.break_start_minute is None
                else local_moment(day, shift.break_start_minute, zone),
                break_ends_at=None
                if shift.break_end_minute is None
                else local_moment(day, shift.break_end_minute, zone),
            )
        )
    await session.flush()
    record_audit(
        session,
        tenant.id,
        actor,
        "wfm_schedule.created",
        ("wfm_schedule", row.id),
        after={"name": row.name, "week_start": str(row.week_start), "agent_hours": row.agent_hours},
    )
    return row


async def get_schedule(session: AsyncSession, schedule_id: uuid.UUID) -> Schedule:
    found = await session.scalar(select(Schedule).where(Schedule.id == schedule_id))
    if found is None:
        raise NotFound("No such schedule")
    return found


async def agent_names(session: AsyncSession, tenant_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Display names of the tenant's members, to show on shifts (read in system scope)."""
    query = (
        select(User.id, User.display_name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id)
    )
    return {row.id: row.display_name for row in (await session.execute(query)).all()}


async def list_schedules(session: AsyncSession) -> list[Schedule]:
    query = select(Schedule).order_by(Schedule.week_start.desc(), Schedule.id.desc()).limit(100)
    return list((await session.scalars(query)).all())


async def shifts_of(session: AsyncSession, schedule_id: uuid.UUID) -> list[Shift]:
    query = (
        select(Shift).where(Shift.schedule_id == schedule_id).order_by(Shift.starts_at, Shift.id)
    )
    return list((await session.scalars(query)).all())


async def publish_schedule(
    session: AsyncSession, actor: Actor, tenant: Tenant, schedule_id: uuid.UUID
) -> Schedule:
    """Publish a draft: its agents see their shifts and are told so."""
    row = await get_schedule(session, schedule_id)
    if row.status == ScheduleStatus.PUBLISHED:
        return row
    row.status = ScheduleStatus.PUBLISHED
    row.published_at = utcnow()
    agents = {s.agent_user_id for s in await shifts_of(session, schedule_id)}
    await session.flush()
    record_audit(
        session,
        tenant.id,
        actor,
        "wfm_schedule.published",
        ("wfm_schedule", row.id),
        before={"status": "draft"},
        after={"status": "published"},
    )
    emit(
        session,
        Event(
            type="wfm_schedule.published",
            tenant=tenant.id,
            data={"schedule_id": str(row.id), "week_start": str(row.week_start)},
            recipients=(supervisors_topic(tenant.id), *sorted(map(user_topic, agents))),
        ),
    )
    return row


async def my_shifts(session: AsyncSession, user_id: uuid.UUID) -> list[Shift]:
    """The agent's published shifts from yesterday on."""
    query = (
        select(Shift)
        .join(
            Schedule, (Schedule.tenant_id == Shift.tenant_id) & (Schedule.id == Shift.schedule_id)
        )
        .where(
            Shift.agent_user_id == user_id,
            Schedule.status == ScheduleStatus.PUBLISHED,
            Shift.ends_at >= utcnow() - timedelta(days=1),
        )
        .order_by(Shift.starts_at)
        .limit(200)
    )
    return list((await session.scalars(query)).all())


async def adherence(
    session: AsyncSession, schedule_id: uuid.UUID, at: datetime | None
) -> schemas.AdherenceOut:
    """Each scheduled agent's state now against the schedule: on the phones when working,
    signed out or away on a break or off shift."""
    await get_schedule(session, schedule_id)
    moment = (at or utcnow()).astimezone(UTC)
    shifts = await shifts_of(session, schedule_id)
    agents = sorted({s.agent_user_id for s in shifts})
    presences = {
        p.user_id: str(p.presence)
        for p in (
            await session.scalars(select(AgentProfile).where(AgentProfile.user_id.in_(agents)))
        ).all()
    }
    rows = []
    for agent in agents:
        state = _scheduled_state([s for s in shifts if s.agent_user_id == agent], moment)
        presence = presences.get(agent, "offline")
        working = presence in WORKING_PRESENCES
        rows.append(
            schemas.AgentAdherenceOut(
                agent_user_id=agent,
                scheduled=state,
                presence=presence,
                adherent=working if state == "working" else not working,
            )
        )
    return schemas.AdherenceOut(
        at=moment,
        agents=rows,
        adherence=sum(r.adherent for r in rows) / len(rows) if rows else None,
    )


def _scheduled_state(shifts: list[Shift], moment: datetime) -> Literal["working", "break", "off"]:
    for shift in shifts:
        if shift.starts_at <= moment < shift.ends_at:
            start, end = shift.break_starts_at, shift.break_ends_at
            return (
                "break"
                if start is not None and end is not None and start <= moment < end
                else "working"
            )
    return "off"


def local_moment(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC moment of a wall-clock minute of a local day (past midnight rolls into the next)."""
    local = datetime.combine(day + timedelta(days=minute // MINUTES_PER_DAY), time(), zone)
    return (local + timedelta(minutes=minute % MINUTES_PER_DAY)).astimezone(UTC)
