"""Routing configuration: skills, queues, and the agents of the shared pool who serve a tenant.

Every change the routing engine must know about schedules its reload job in the same
transaction (``ROUTING_QUEUE`` for a queue, ``ROUTING_AGENT`` for an agent), so the engine
reloads exactly what was committed. Skills are referred to by id, so renaming one needs no job.

Agent profiles are global (one per user, shared by every tenant the agent serves) and so not
filtered by the tenant scope: this module only ever touches the profiles of users who serve the
scoped tenant.
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.errors import Conflict, FieldError, InvalidInput, NotFound
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.identity.models import Membership, User
from centralita.identity.permissions import Role
from centralita.interactions.models import Channel, Interaction, InteractionState
from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.routing.engine import DEFAULT_CAPACITY, DEFAULT_OCCUPANCY_CAP, Load, Presence
from centralita.routing.models import AgentProfile, AgentSkill, Queue, QueueSkill, Skill
from centralita.routing.schemas import (
    AgentUpdate,
    CapacityIn,
    OverflowStepIn,
    QueueCreate,
    QueueUpdate,
    SkillCreate,
    SkillUpdate,
)

# The roles with which a member of the shared pool takes a tenant's work.
SERVING_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
# Work not finished yet: waiting in its queue, or held by an agent.
UNFINISHED_STATES = (
    InteractionState.QUEUED,
    InteractionState.OFFERED,
    InteractionState.ACTIVE,
    InteractionState.WRAP_UP,
)
# Channels a customer expects an answer on within hours, not seconds.
DEFERRED_CHANNELS = frozenset({Channel.EMAIL, Channel.WEB, Channel.TASK})
# (target percent, threshold seconds) of a new queue's service level.
LIVE_SERVICE_LEVEL = (80, 20)
DEFERRED_SERVICE_LEVEL = (90, 4 * 3600)
# The agent_profiles column default.
DEFAULT_WRAP_UP_SECONDS = 60

SkillRow = QueueSkill | AgentSkill


@dataclass(frozen=True)
class RequiredSkill:
    skill_id: uuid.UUID
    name: str
    min_level: int


@dataclass(frozen=True)
class QueueView:
    queue: Queue
    skills: list[RequiredSkill]


@dataclass(frozen=True)
class HeldSkill:
    skill_id: uuid.UUID
    name: str
    level: int


@dataclass(frozen=True)
class AgentView:
    user: User
    role: Role
    profile: AgentProfile
    skills: list[HeldSkill]


def _refuse_invalid(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors)


async def _flush_unique_name(session: AsyncSession, kind: str, name: str) -> None:
    """Flush new or renamed rows whose one unique key is the name: a violation means the name is
    taken. Checked at the flush rather than by a query first, so that of two requests racing for
    one name the loser also gets a 409."""
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"A {kind} named {name!r} already exists", f"{kind}-exists") from None


async def _skill_errors(session: AsyncSession, skill_ids: Sequence[uuid.UUID]) -> list[FieldError]:
    """What is wrong with ``body.skills``: a skill not of this tenant, or one listed twice."""
    known = set((await session.execute(select(Skill.id).where(Skill.id.in_(skill_ids)))).scalars())
    errors: list[FieldError] = []
    for index, skill_id in enumerate(skill_ids):
        field = f"body.skills.{index}.skill_id"
        if skill_id not in known:
            errors.append(FieldError(field, "No such skill"))
        elif skill_id in skill_ids[:index]:
            errors.append(FieldError(field, "This skill is already listed"))
    return errors


async def _replace_levels(
    session: AsyncSession,
    rows: Iterable[SkillRow],
    wanted: dict[uuid.UUID, int],
    level: str,
    new_row: Callable[..., SkillRow],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Make the skill rows say exactly ``wanted`` (skill id to level), adding rows with
    ``new_row(skill_id=..., <level>=...)``; returns (before, after) for the audit, empty if the
    rows said so already."""
    current = {row.skill_id: row for row in rows}
    before = {str(skill_id): getattr(row, level) for skill_id, row in current.items()}
    after = {str(skill_id): wanted_level for skill_id, wanted_level in wanted.items()}
    if before == after:
        return {}, {}
    for skill_id, row in current.items():
        if skill_id in wanted:
            setattr(row, level, wanted[skill_id])
        else:
            await session.delete(row)
    session.add_all(
        new_row(skill_id=skill_id, **{level: wanted_level})
        for skill_id, wanted_level in wanted.items()
        if skill_id not in current
    )
    return {"skills": before}, {"skills": after}


# --- skills ----------------------------------------------------------------------------------


async def list_skills(session: AsyncSession) -> list[Skill]:
    return list((await session.execute(select(Skill).order_by(Skill.name))).scalars())


async def get_skill(session: AsyncSession, skill_id: uuid.UUID) -> Skill:
    skill = (await session.execute(select(Skill).where(Skill.id == skill_id))).scalar_one_or_none()
    if skill is None:
        raise NotFound("Skill not found")
    return skill


async def create_skill(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: SkillCreate
) -> Skill:
    skill = Skill(tenant_id=tenant_id, **data.model_dump())
    session.add(skill)
    await _flush_unique_name(session, "skill", skill.name)
    record_audit(
        session, tenant_id, actor, "skill.created", ("skill", skill.id), None, data.model_dump()
    )
    await session.flush()
    return skill


async def update_skill(
    session: AsyncSession, actor: Actor, skill_id: uuid.UUID, data: SkillUpdate
) -> Skill:
    skill = await get_skill(session, skill_id)
    before, after = apply_changes(skill, data.model_dump(exclude_unset=True))
    if after:
        await _flush_unique_name(session, "skill", skill.name)
        record_audit(
            session, skill.tenant_id, actor, "skill.updated", ("skill", skill.id), before, after
        )
        await session.flush()
    return skill


async def delete_skill(session: AsyncSession, actor: Actor, skill_id: uuid.UUID) -> None:
    """Delete a skill: the queues requiring it no longer do, and the agents holding it lose it."""
    skill = await get_skill(session, skill_id)
    required = await session.execute(select(QueueSkill).where(QueueSkill.skill_id == skill.id))
    held = await session.execute(select(AgentSkill).where(AgentSkill.skill_id == skill.id))
    queue_ids = [row.queue_id for row in required.scalars()]
    agent_ids = [row.user_id for row in held.scalars()]
    for queue_id in queue_ids:
        schedule(session, JobKind.ROUTING_QUEUE, ref_id=queue_id)
    for user_id in agent_ids:
        schedule(session, JobKind.ROUTING_AGENT, ref_id=user_id)
    record_audit(
        session,
        skill.tenant_id,
        actor,
        "skill.deleted",
        ("skill", skill.id),
        {"name": skill.name, "required_by_queues": queue_ids, "held_by_agents": agent_ids},
        None,
    )
    # The rows requiring or holding it go with it (foreign keys ON DELETE CASCADE).
    await session.delete(skill)
    await session.flush()


# --- queues ----------------------------------------------------------------------------------


def default_service_level(channels: Iterable[str]) -> tuple[int, int]:
    """(target percent, threshold seconds) of a new queue: 80 % within 20 s, or 90 % within 4 h
    for a queue serving only deferred channels (email, web, task)."""
    return DEFERRED_SERVICE_LEVEL if set(channels) <= DEFERRED_CHANNELS else LIVE_SERVICE_LEVEL


def _auto_accept_errors(channels: Iterable[str], auto_accept: bool, field: str) -> list[FieldError]:
    if auto_accept and not set(channels) <= DEFERRED_CHANNELS:
        message = (
            "Only a queue serving only email, web and task work may auto-accept: a call or a "
            "chat needs a person ready to answer it"
        )
        return [FieldError(field, message)]
    return []


async def _overflow_errors(
    session: AsyncSession, steps: Sequence[OverflowStepIn], queue_id: uuid.UUID | None
) -> list[FieldError]:
    named = {extra for step in steps for extra in step.extra_queue_ids}
    known = set((await session.execute(select(Queue.id).where(Queue.id.in_(named)))).scalars())
    errors: list[FieldError] = []
    for index, step in enumerate(steps):
        field = f"body.overflow.{index}"
        if index and step.after_seconds <= steps[index - 1].after_seconds:
            errors.append(
                FieldError(f"{field}.after_seconds", "Must be later than the step before")
            )
        if step.min_level is None and not step.extra_queue_ids:
            errors.append(
                FieldError(field, "A step lowers min_level, adds extra_queue_ids, or both")
            )
        for position, extra in enumerate(step.extra_queue_ids):
            path = f"{field}.extra_queue_ids.{position}"
            if extra == queue_id:
                errors.append(FieldError(path, "A queue cannot overflow into itself"))
            elif extra not in known:
                errors.append(FieldError(path, "No such queue"))
    return errors


async def _required_skills(
    session: AsyncSession, queue_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[RequiredSkill]]:
    query = (
        select(QueueSkill.queue_id, Skill.id, Skill.name, QueueSkill.min_level)
        .join(Skill, (Skill.tenant_id == QueueSkill.tenant_id) & (Skill.id == QueueSkill.skill_id))
        .where(QueueSkill.queue_id.in_(queue_ids))
        .order_by(Skill.name)
    )
    required: dict[uuid.UUID, list[RequiredSkill]] = {queue_id: [] for queue_id in queue_ids}
    for queue_id, skill_id, name, min_level in (await session.execute(query)).all():
        required[queue_id].append(RequiredSkill(skill_id, name, min_level))
    return required


async def list_queues(session: AsyncSession) -> list[QueueView]:
    queues = list((await session.execute(select(Queue).order_by(Queue.name))).scalars())
    required = await _required_skills(session, [queue.id for queue in queues])
    return [QueueView(queue, required[queue.id]) for queue in queues]


async def _queue(session: AsyncSession, queue_id: uuid.UUID) -> Queue:
    queue = (await session.execute(select(Queue).where(Queue.id == queue_id))).scalar_one_or_none()
    if queue is None:
        raise NotFound("Queue not found")
    return queue


async def get_queue(session: AsyncSession, queue_id: uuid.UUID) -> QueueView:
    queue = await _queue(session, queue_id)
    return QueueView(queue, (await _required_skills(session, [queue.id]))[queue.id])


async def queue_by_name(session: AsyncSession, name: str) -> Queue | None:
    """The scoped tenant's queue an interaction's ``queue`` field names."""
    return (await session.execute(select(Queue).where(Queue.name == name))).scalar_one_or_none()


async def _refuse_if_holding_work(session: AsyncSession, queue: Queue, change: str) -> None:
    """Interactions name their queue, so one with unfinished work keeps its name until done."""
    unfinished = (
        select(func.count())
        .select_from(Interaction)
        .where(Interaction.queue == queue.name, Interaction.state.in_(UNFINISHED_STATES))
    )
    count = (await session.execute(unfinished)).scalar_one()
    if count:
        raise Conflict(
            f"Queue {queue.name!r} holds {count} unfinished interaction(s); it can be {change} "
            "once they are done or moved to another queue",
            "queue-holds-work",
        )


def _queue_changed(
    session: AsyncSession,
    actor: Actor,
    queue: Queue,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Audit a change of a queue and have the routing engine reload it."""
    record_audit(session, queue.tenant_id, actor, action, ("queue", queue.id), before, after)
    schedule(session, JobKind.ROUTING_QUEUE, ref_id=queue.id)


async def _take_default(session: AsyncSession, actor: Actor, queue: Queue) -> None:
    """Make ``queue`` the only default of its channels: any other default queue sharing one of
    them stops being a default (for all its channels)."""
    # Every queue of the tenant is locked, so two requests making two queues the default of one
    # channel take turns and the second one wins, rather than both.
    others = await session.execute(select(Queue).where(Queue.id != queue.id).with_for_update())
    for other in others.scalars():
        if other.is_default and set(other.channels) & set(queue.channels):
            other.is_default = False
            _queue_changed(
                session, actor, other, "queue.updated", {"is_default": True}, {"is_default": False}
            )


def _new_queue_skill(queue: Queue) -> Callable[..., SkillRow]:
    return partial(QueueSkill, tenant_id=queue.tenant_id, queue_id=queue.id)


async def create_queue(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: QueueCreate
) -> QueueView:
    settings = data.model_dump(mode="json", exclude={"skills"})
    settings["channels"] = sorted(settings["channels"])
    target, threshold = default_service_level(data.channels)
    if data.sl_target_percent is None:
        settings["sl_target_percent"] = target
    if data.sl_threshold_seconds is None:
        settings["sl_threshold_seconds"] = threshold
    _refuse_invalid(
        [
            *_auto_accept_errors(data.channels, data.auto_accept, "body.auto_accept"),
            *await _skill_errors(session, [skill.skill_id for skill in data.skills]),
            *await _overflow_errors(session, data.overflow, None),
        ]
    )
    queue = Queue(tenant_id=tenant_id, **settings)
    session.add(queue)
    await _flush_unique_name(session, "queue", queue.name)
    levels = {skill.skill_id: skill.min_level for skill in data.skills}
    _, skills = await _replace_levels(session, [], levels, "min_level", _new_queue_skill(queue))
    if queue.is_default:
        await _take_default(session, actor, queue)
    _queue_changed(session, actor, queue, "queue.created", None, {**settings, **skills})
    await session.flush()
    return await get_queue(session, queue.id)


async def update_queue(
    session: AsyncSession, actor: Actor, queue_id: uuid.UUID, data: QueueUpdate
) -> QueueView:
    queue = await _queue(session, queue_id)
    sent = data.model_dump(mode="json", exclude_unset=True, exclude={"skills"})
    if "channels" in sent:
        sent["channels"] = sorted(sent["channels"])
    # Blame the field the caller sent: a new channel or the auto-accept flag itself.
    blamed = "body.auto_accept" if "auto_accept" in sent else "body.channels"
    channels = sent.get("channels", queue.channels)
    errors = _auto_accept_errors(channels, sent.get("auto_accept", queue.auto_accept), blamed)
    if data.skills is not None:
        errors += await _skill_errors(session, [skill.skill_id for skill in data.skills])
    if data.overflow is not None:
        errors += await _overflow_errors(session, data.overflow, queue.id)
    _refuse_invalid(errors)
    if sent.get("name", queue.name) != queue.name:
        await _refuse_if_holding_work(session, queue, "renamed")
    rows = await session.execute(select(QueueSkill).where(QueueSkill.queue_id == queue.id))
    current_rows = list(rows.scalars())

    before, after = apply_changes(queue, sent)
    await _flush_unique_name(session, "queue", queue.name)
    if data.skills is not None:
        wanted = {skill.skill_id: skill.min_level for skill in data.skills}
        skills_before, skills_after = await _replace_levels(
            session, current_rows, wanted, "min_level", _new_queue_skill(queue)
        )
        if skills_after:
            before, after = {**before, **skills_before}, {**after, **skills_after}
            queue.updated_at = utcnow()
    if queue.is_default and {"is_default", "channels"} & after.keys():
        await _take_default(session, actor, queue)
    if after:
        _queue_changed(session, actor, queue, "queue.updated", before, after)
    await session.flush()
    return await get_queue(session, queue.id)


async def delete_queue(session: AsyncSession, actor: Actor, queue_id: uuid.UUID) -> None:
    """Delete a queue that holds no unfinished work and is no other queue's overflow."""
    queue = await _queue(session, queue_id)
    await _refuse_if_holding_work(session, queue, "deleted")
    others = await session.execute(select(Queue).where(Queue.id != queue.id).order_by(Queue.name))
    overflowing_into = [
        other.name
        for other in others.scalars()
        if any(str(queue.id) in step["extra_queue_ids"] for step in other.overflow)
    ]
    if overflowing_into:
        raise Conflict(
            f"Queue {queue.name!r} is in the overflow of {', '.join(overflowing_into)}; take it "
            "out of there first",
            "queue-in-overflow",
        )
    deleted = {"name": queue.name, "channels": queue.channels}
    _queue_changed(session, actor, queue, "queue.deleted", deleted, None)
    # Its skill requirements go with it (foreign key ON DELETE CASCADE).
    await session.delete(queue)
    await session.flush()


# --- agents ----------------------------------------------------------------------------------


def _default_profile(user_id: uuid.UUID) -> AgentProfile:
    return AgentProfile(
        user_id=user_id,
        presence=Presence.OFFLINE,
        presence_reason=None,
        presence_changed_at=utcnow(),
        languages=[],
        occupancy_cap=DEFAULT_OCCUPANCY_CAP,
        wrap_up_seconds=DEFAULT_WRAP_UP_SECONDS,
        **{f"capacity_{kind}": DEFAULT_CAPACITY[kind] for kind in Load},
        **{f"load_{kind}": 0 for kind in Load},
    )


async def get_agent_profile(session: AsyncSession, user_id: uuid.UUID) -> AgentProfile:
    """The agent's shared profile; if the agent has none yet, one with the defaults, not added to
    the session."""
    return await session.get(AgentProfile, user_id) or _default_profile(user_id)


async def _serving_members(
    session: AsyncSession, user_id: uuid.UUID | None = None
) -> list[tuple[User, Role]]:
    """The active users serving the scoped tenant (or just ``user_id``, if it does), by name."""
    query = (
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role.in_(SERVING_ROLES), User.is_active)
        .order_by(User.display_name, User.id)
    )
    if user_id is not None:
        query = query.where(User.id == user_id)
    return [(user, Role(role)) for user, role in (await session.execute(query)).all()]


async def serves(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether this user is an active agent of the scoped tenant."""
    return bool(await _serving_members(session, user_id))


async def _agent_views(session: AsyncSession, members: list[tuple[User, Role]]) -> list[AgentView]:
    user_ids = [user.id for user, _ in members]
    found = await session.execute(select(AgentProfile).where(AgentProfile.user_id.in_(user_ids)))
    profiles = {profile.user_id: profile for profile in found.scalars()}
    query = (
        select(AgentSkill.user_id, Skill.id, Skill.name, AgentSkill.level)
        .join(Skill, (Skill.tenant_id == AgentSkill.tenant_id) & (Skill.id == AgentSkill.skill_id))
        .where(AgentSkill.user_id.in_(user_ids))
        .order_by(Skill.name)
    )
    skills: dict[uuid.UUID, list[HeldSkill]] = {user_id: [] for user_id in user_ids}
    for user_id, skill_id, name, level in (await session.execute(query)).all():
        skills[user_id].append(HeldSkill(skill_id, name, level))
    return [
        AgentView(user, role, profiles.get(user.id) or _default_profile(user.id), skills[user.id])
        for user, role in members
    ]


async def list_agents(session: AsyncSession) -> list[AgentView]:
    """The agents serving the scoped tenant, by name, with their shared profile and their skills
    in this tenant."""
    return await _agent_views(session, await _serving_members(session))


async def get_agent(session: AsyncSession, user_id: uuid.UUID) -> AgentView:
    members = await _serving_members(session, user_id)
    if not members:
        raise NotFound("No agent serving this tenant has this id")
    (agent,) = await _agent_views(session, members)
    return agent


async def _locked_profile(session: AsyncSession, user_id: uuid.UUID) -> AgentProfile:
    """The agent's profile row, created with the defaults on first use, read afresh and locked
    until commit, so the routing engine cannot add load while capacity is checked against it."""
    query = (
        select(AgentProfile)
        .where(AgentProfile.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    profile = (await session.execute(query)).scalar_one_or_none()
    if profile is not None:
        return profile
    # Losing a race to create it is fine: the winner's row is the one read back.
    with suppress(IntegrityError):
        async with session.begin_nested():
            session.add(_default_profile(user_id))
    return (await session.execute(query)).scalar_one()


def _refuse_capacity_below_load(profile: AgentProfile, capacity: CapacityIn) -> None:
    # The database would refuse it too (load <= capacity is a check constraint); saying which
    # work is in the way is kinder than a failed flush.
    over = []
    for kind in Load:
        held, allowed = getattr(profile, f"load_{kind}"), getattr(capacity, kind)
        if held > allowed:
            over.append(f"{held} {kind} (new capacity {allowed})")
    if over:
        raise Conflict(
            f"The agent holds more work than the new capacity: {', '.join(over)}. Lower it once "
            "that work is done",
            "capacity-below-load",
        )


async def configure_agent(
    session: AsyncSession,
    actor: Actor,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    data: AgentUpdate,
) -> AgentView:
    """Set an agent's shared profile and their skills in this tenant; nothing changes when the
    new capacity is below the work the agent holds."""
    await get_agent(session, user_id)
    _refuse_invalid(await _skill_errors(session, [skill.skill_id for skill in data.skills]))
    profile = await _locked_profile(session, user_id)
    _refuse_capacity_below_load(profile, data.capacity)
    held = await session.execute(select(AgentSkill).where(AgentSkill.user_id == user_id))
    current_rows = list(held.scalars())

    shared = {
        "languages": data.languages,
        "occupancy_cap": data.occupancy_cap,
        "wrap_up_seconds": data.wrap_up_seconds,
        **{f"capacity_{kind}": getattr(data.capacity, kind) for kind in Load},
    }
    before, after = apply_changes(profile, shared)
    wanted = {skill.skill_id: skill.level for skill in data.skills}
    new_row = partial(AgentSkill, tenant_id=tenant_id, user_id=user_id)
    skills_before, skills_after = await _replace_levels(
        session, current_rows, wanted, "level", new_row
    )
    before, after = {**before, **skills_before}, {**after, **skills_after}
    if after:
        record_audit(
            session, tenant_id, actor, "agent.configured", ("user", user_id), before, after
        )
        schedule(session, JobKind.ROUTING_AGENT, ref_id=user_id)
    await session.flush()
    return await get_agent(session, user_id)
