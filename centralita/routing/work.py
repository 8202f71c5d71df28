"""Work in an agent's hands: offers, acceptance, transfer, wrap-up, and the agent's presence.

The database is the truth and its constraints the last word: an ``Assignment`` row records each
offer, the partial unique index allows one live assignment per interaction, and the load columns
of ``AgentProfile`` (checked against capacity) move with every assignment taken or released, in
the same transaction as the interaction's own change. Commands from agents act on the database
directly and then schedule a routing job, so the engine catches up with what they did; the engine's
own decisions are written through the same functions (see ``routing.runner``).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import new_id, utcnow
from centralita.errors import Conflict, InvalidInput
from centralita.events.bus import Event, conversation_topic, emit, supervisors_topic, user_topic
from centralita.events.service import Actor
from centralita.interactions.models import AuthorKind, Interaction, InteractionState
from centralita.interactions.schemas import MessageIn
from centralita.interactions.service import (
    announce_change,
    change_state,
    get_interaction,
    new_message,
)
from centralita.jobs.models import JobKind
from centralita.jobs.service import schedule
from centralita.reporting.agent_time import record_presence_fact
from centralita.routing.engine import LOAD_OF_CHANNEL, Load, Presence
from centralita.routing.models import AgentProfile, Assignment, Outcome, Queue
from centralita.tenancy.models import Tenant

State = InteractionState
# What an agent may choose; wrap-up after a call and "missed" come from the engine.
AWAY_REASONS = frozenset({"break", "lunch", "meeting", "training", "coaching", "other"})
SETTABLE_PRESENCE = frozenset({Presence.OFFLINE, Presence.AVAILABLE, Presence.AWAY})
# A colleague has this long to take work handed straight to them before it goes to the queue.
DIRECT_TRANSFER_TIMEOUT_SECONDS = 30


class CapacityExceeded(Conflict):
    def __init__(self) -> None:
        super().__init__("The agent has no free capacity for this work", "no-capacity")


def work_event(kind: str, interaction: Interaction, agent_id: uuid.UUID, **data: object) -> Event:
    """An event about one interaction, for the agent concerned and the tenant's supervisors."""
    return Event(
        type=kind,
        tenant=interaction.tenant_id,
        data={
            "interaction_id": interaction.id,
            "agent_id": agent_id,
            "channel": interaction.channel,
            "queue": interaction.queue,
            "state": interaction.state,
            "subject": interaction.subject,
            **data,
        },
        # The customer's side (a chat widget) learns who serves it and when it ends.
        recipients=(
            user_topic(agent_id),
            supervisors_topic(interaction.tenant_id),
            conversation_topic(interaction.id),
        ),
    )


async def _change_load(session: AsyncSession, agent_id: uuid.UUID, load: Load, delta: int) -> None:
    """Move the agent's load; the check constraints refuse capacity overflow and negative load."""
    column = getattr(AgentProfile, f"load_{load}")
    statement = (
        update(AgentProfile)
        .where(AgentProfile.user_id == agent_id)
        .values({column: column + delta, AgentProfile.updated_at: utcnow()})
    )
    try:
        async with session.begin_nested():
            result = await session.execute(statement)
    except IntegrityError:
        raise CapacityExceeded() from None
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CapacityExceeded()


async def live_assignment(session: AsyncSession, interaction_id: uuid.UUID) -> Assignment | None:
    query = select(Assignment).where(
        Assignment.interaction_id == interaction_id, Assignment.released_at.is_(None)
    )
    return (await session.execute(query.with_for_update())).scalar_one_or_none()


async def hold(
    session: AsyncSession,
    interaction: Interaction,
    agent_id: uuid.UUID,
    *,
    queue_id: uuid.UUID | None,
    expires_at: datetime | None,
    accepted: bool,
    now: datetime,
) -> Assignment:
    """Give queued work to an agent: offered, or already accepted (auto-accept queues)."""
    load = LOAD_OF_CHANNEL[interaction.channel]
    await _change_load(session, agent_id, load, +1)
    assignment = Assignment(
        tenant_id=interaction.tenant_id,
        id=new_id(),
        interaction_id=interaction.id,
        agent_user_id=agent_id,
        queue_id=queue_id,
        load=load,
        outcome=Outcome.ACCEPTED if accepted else Outcome.PENDING,
        offered_at=now,
        expires_at=expires_at,
        answered_at=now if accepted else None,
    )
    session.add(assignment)
    interaction.agent_user_id = agent_id
    change_state(interaction, State.OFFERED, Actor("routing"), now)
    if accepted:
        change_state(interaction, State.ACTIVE, Actor("routing", user_id=agent_id), now)
    await session.flush()
    kind = "interaction.assigned" if accepted else "interaction.offered"
    emit(session, work_event(kind, interaction, agent_id, expires_at=expires_at))
    return assignment


async def release(
    session: AsyncSession, assignment: Assignment, outcome: Outcome, now: datetime
) -> None:
    assignment.outcome = outcome
    assignment.released_at = now
    await _change_load(session, assignment.agent_user_id, Load(assignment.load), -1)
    await session.flush()


async def requeue(
    session: AsyncSession, interaction: Interaction, assignment: Assignment, outcome: Outcome
) -> None:
    """An offer declined or missed: the work goes back to wait, keeping its place in time."""
    now = utcnow()
    await release(session, assignment, outcome, now)
    interaction.agent_user_id = None
    change_state(interaction, State.QUEUED, Actor("routing"), now)
    announce_change(session, interaction)
    kind = (
        "interaction.offer_rejected" if outcome == Outcome.REJECTED else "interaction.offer_expired"
    )
    emit(session, work_event(kind, interaction, assignment.agent_user_id))


@dataclass(frozen=True)
class HeldWork:
    interaction: Interaction
    assignment: Assignment


async def _held_by(
    session: AsyncSession, actor: Actor, interaction_id: uuid.UUID, *outcomes: Outcome
) -> HeldWork:
    """The caller's live assignment of this work, in one of ``outcomes``; locked."""
    interaction = await get_interaction(session, interaction_id, for_update=True)
    assignment = await live_assignment(session, interaction.id)
    if assignment is None or assignment.agent_user_id != actor.user_id:
        raise Conflict("This work is not yours", "not-your-work")
    if assignment.outcome not in outcomes:
        raise Conflict(f"This work is {assignment.outcome}, not {outcomes[0]}", "wrong-state")
    return HeldWork(interaction, assignment)


async def accept(session: AsyncSession, actor: Actor, interaction_id: uuid.UUID) -> Interaction:
    held = await _held_by(session, actor, interaction_id, Outcome.PENDING)
    now = utcnow()
    if held.assignment.expires_at is not None and held.assignment.expires_at <= now:
        raise Conflict("The offer has expired", "offer-expired")
    held.assignment.outcome = Outcome.ACCEPTED
    held.assignment.answered_at = now
    change_state(held.interaction, State.ACTIVE, actor, now)
    announce_change(session, held.interaction)
    emit(
        session, work_event("interaction.assigned", held.interaction, held.assignment.agent_user_id)
    )
    await session.flush()
    return held.interaction


async def reject(session: AsyncSession, actor: Actor, interaction_id: uuid.UUID) -> Interaction:
    held = await _held_by(session, actor, interaction_id, Outcome.PENDING)
    await requeue(session, held.interaction, held.assignment, Outcome.REJECTED)
    await session.flush()
    return held.interaction


async def end_conversation(
    session: AsyncSession, actor: Actor, interaction_id: uuid.UUID
) -> Interaction:
    """The customer is gone; the agent keeps the work (and its capacity) for wrap-up."""
    held = await _held_by(session, actor, interaction_id, Outcome.ACCEPTED)
    change_state(held.interaction, State.WRAP_UP, actor)
    announce_change(session, held.interaction)
    agent = held.assignment.agent_user_id
    emit(session, work_event("interaction.conversation_ended", held.interaction, agent))
    await session.flush()
    return held.interaction


async def complete(
    session: AsyncSession,
    actor: Actor,
    interaction_id: uuid.UUID,
    disposition: str,
    notes: str | None,
) -> Interaction:
    """Wrap-up done: the disposition is recorded and the capacity freed for the next work."""
    held = await _held_by(session, actor, interaction_id, Outcome.ACCEPTED)
    now = utcnow()
    if held.interaction.state == State.ACTIVE:
        change_state(held.interaction, State.WRAP_UP, actor, now)
    change_state(held.interaction, State.ENDED, actor, now)
    held.interaction.disposition = disposition
    if notes:
        note = MessageIn(author_kind=AuthorKind.NOTE, text=notes)
        session.add(new_message(held.interaction, note, actor, now))
    await release(session, held.assignment, Outcome.COMPLETED, now)
    announce_change(session, held.interaction)
    emit(
        session,
        work_event("interaction.completed", held.interaction, held.assignment.agent_user_id),
    )
    return held.interaction


async def transfer(
    session: AsyncSession,
    actor: Actor,
    interaction_id: uuid.UUID,
    *,
    queue_id: uuid.UUID | None,
    agent_id: uuid.UUID | None,
    note: str | None,
    serves_tenant: bool,
) -> Interaction:
    """Hand active work to a queue of this tenant or straight to another agent.

    The interaction keeps its self-service context and messages; the note is added for the next
    agent. ``serves_tenant`` says whether the target agent serves this tenant (checked by the
    caller, which knows memberships).
    """
    if (queue_id is None) == (agent_id is None):
        raise InvalidInput.on_field("body", "give either queue_id or agent_id, exactly one")
    held = await _held_by(session, actor, interaction_id, Outcome.ACCEPTED)
    interaction, now = held.interaction, utcnow()
    target_queue = None
    if queue_id is not None:
        target_queue = await _transfer_queue(session, interaction, queue_id)
    else:
        await _check_colleague(session, actor, agent_id, serves_tenant)
    await release(session, held.assignment, Outcome.TRANSFERRED, now)
    interaction.agent_user_id = None
    change_state(interaction, State.QUEUED, actor, now)
    if note:
        text = MessageIn(author_kind=AuthorKind.NOTE, text=note)
        session.add(new_message(interaction, text, actor, now))
    if target_queue is not None:
        interaction.queue = target_queue.name
    elif agent_id is not None:
        expires = now + timedelta(seconds=DIRECT_TRANSFER_TIMEOUT_SECONDS)
        await hold(
            session,
            interaction,
            agent_id,
            queue_id=None,
            expires_at=expires,
            accepted=False,
            now=now,
        )
    announce_change(session, interaction)
    emit(session, work_event("interaction.transferred", interaction, held.assignment.agent_user_id))
    await session.flush()
    return interaction


async def offer_to(
    session: AsyncSession,
    interaction_id: uuid.UUID,
    agent_id: uuid.UUID,
    *,
    serves_tenant: bool,
) -> Interaction:
    """A supervisor hands waiting work straight to an agent, who has the direct-transfer time to
    accept it before it waits again. ``serves_tenant`` is checked by the caller, as in
    :func:`transfer`."""
    interaction = await get_interaction(session, interaction_id, for_update=True)
    if interaction.state != State.QUEUED:
        raise Conflict("Only waiting work can be handed to an agent", "not-waiting")
    if not serves_tenant:
        raise InvalidInput.on_field("body.agent_id", "No agent serving this tenant has this id")
    profile = await session.get(AgentProfile, agent_id)
    if profile is None or profile.presence == Presence.OFFLINE:
        raise InvalidInput.on_field("body.agent_id", "The agent is not signed in")
    now = utcnow()
    expires = now + timedelta(seconds=DIRECT_TRANSFER_TIMEOUT_SECONDS)
    await hold(
        session, interaction, agent_id, queue_id=None, expires_at=expires, accepted=False, now=now
    )
    announce_change(session, interaction)
    await session.flush()
    return interaction


async def _transfer_queue(
    session: AsyncSession, interaction: Interaction, queue_id: uuid.UUID
) -> Queue:
    queue = (await session.execute(select(Queue).where(Queue.id == queue_id))).scalar_one_or_none()
    if queue is None:
        # Another tenant's queue is unknown here, like one that never existed.
        raise InvalidInput.on_field("body.queue_id", "No such queue")
    if interaction.channel not in queue.channels:
        raise InvalidInput.on_field(
            "body.queue_id", f"That queue does not serve {interaction.channel}"
        )
    return queue


async def _check_colleague(
    session: AsyncSession, actor: Actor, agent_id: uuid.UUID | None, serves_tenant: bool
) -> None:
    if agent_id == actor.user_id:
        raise InvalidInput.on_field("body.agent_id", "The work is already yours")
    if not serves_tenant:
        raise InvalidInput.on_field("body.agent_id", "That agent does not serve this company")
    target = await session.get(AgentProfile, agent_id)
    if target is None or target.presence != Presence.AVAILABLE:
        raise Conflict("That agent is not available", "agent-unavailable")


async def set_presence(
    session: AsyncSession, user_id: uuid.UUID, presence: Presence, reason: str | None
) -> AgentProfile:
    """The agent's own presence; ``busy`` is never set, it follows from load."""
    if presence not in SETTABLE_PRESENCE:
        allowed = ", ".join(sorted(SETTABLE_PRESENCE))
        raise InvalidInput.on_field("body.presence", f"choose one of: {allowed}")
    if presence == Presence.AWAY:
        if reason not in AWAY_REASONS:
            allowed = ", ".join(sorted(AWAY_REASONS))
            raise InvalidInput.on_field("body.reason", f"say why you are away: {allowed}")
    elif reason is not None:
        raise InvalidInput.on_field("body.reason", "only an away presence takes a reason")
    profile = await session.get(AgentProfile, user_id, with_for_update=True)
    if profile is None:
        profile = AgentProfile(user_id=user_id)
        session.add(profile)
    await record_presence(session, profile, presence, reason)
    return profile


async def record_presence(
    session: AsyncSession, profile: AgentProfile, presence: Presence, reason: str | None
) -> None:
    profile.presence = presence
    profile.presence_reason = reason
    profile.presence_changed_at = utcnow()
    record_presence_fact(session, profile.user_id, presence, profile.presence_changed_at)
    schedule(session, JobKind.ROUTING_AGENT, ref_id=profile.user_id)
    emit(
        session,
        Event(
            type="agent.presence_changed",
            tenant=None,
            data={"agent_id": profile.user_id, "presence": presence, "reason": reason},
            recipients=(user_topic(profile.user_id),),
        ),
    )
    await session.flush()


@dataclass(frozen=True)
class WorkInHand:
    tenant_slug: str
    interaction: Interaction
    assignment: Assignment


async def work_in_hand(
    session: AsyncSession, user_id: uuid.UUID, tenant_ids: Iterable[uuid.UUID]
) -> list[WorkInHand]:
    """What the agent holds now, in the given tenants (those they serve), oldest offer first.

    The session must be in system scope: an agent's work spans the tenants they serve.
    """
    query = (
        select(Assignment, Interaction, Tenant.slug)
        .join(
            Interaction,
            (Interaction.tenant_id == Assignment.tenant_id)
            & (Interaction.id == Assignment.interaction_id),
        )
        .join(Tenant, Tenant.id == Assignment.tenant_id)
        .where(
            Assignment.agent_user_id == user_id,
            Assignment.released_at.is_(None),
            Assignment.tenant_id.in_(list(tenant_ids)),
        )
        .order_by(Assignment.offered_at)
    )
    rows = (await session.execute(query)).all()
    return [WorkInHand(slug, interaction, assignment) for assignment, interaction, slug in rows]
