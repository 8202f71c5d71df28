"""Between the database and the engine: rows become engine specs, decisions become rows.

``EngineSession`` pairs one database transaction with the engine. ``load_everything`` fills an
empty engine from the tables; ``reconcile`` brings the engine in line with one interaction, agent
or queue that changed; ``write`` stores one engine decision through ``routing.work``.
"""

import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer, ValueTier
from centralita.events.service import Actor
from centralita.identity.models import Membership
from centralita.interactions.models import Interaction, InteractionState
from centralita.interactions.service import change_state
from centralita.jobs.models import JobKind
from centralita.routing import work
from centralita.routing.engine import (
    AgentSpec,
    Decision,
    DecisionKind,
    Engine,
    Held,
    Load,
    OverflowStep,
    Presence,
    QueueSpec,
    RoutingError,
    WorkItem,
)
from centralita.routing.models import (
    AgentProfile,
    AgentSkill,
    Assignment,
    Outcome,
    Queue,
    QueueSkill,
)
from centralita.routing.service import SERVING_ROLES
from centralita.sla.service import earliest_due

State = InteractionState
ROUTER = Actor(label="routing")
HELD_STATES = frozenset({State.OFFERED, State.ACTIVE, State.WRAP_UP})


class StaleDecision(Exception):
    """The rows changed since the engine last saw them; the decision no longer applies."""


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _held(interaction: Interaction, assignment: Assignment) -> Held:
    if assignment.outcome == Outcome.PENDING:
        return Held.OFFERED
    return Held.WRAP_UP if interaction.state == State.WRAP_UP else Held.ACTIVE


def queue_spec(queue: Queue, skills: dict[uuid.UUID, int]) -> QueueSpec:
    return QueueSpec(
        id=queue.id,
        tenant_id=queue.tenant_id,
        channels=frozenset(queue.channels),
        skills=skills,
        language=queue.language,
        priority=queue.priority,
        sl_target=queue.sl_target_percent / 100,
        sl_threshold_seconds=float(queue.sl_threshold_seconds),
        overflow=tuple(
            OverflowStep(
                after_seconds=float(step["after_seconds"]),
                min_level=step.get("min_level"),
                extra_queue_ids=tuple(uuid.UUID(str(q)) for q in step.get("extra_queue_ids", ())),
            )
            for step in queue.overflow
        ),
        offer_timeout_seconds=float(queue.offer_timeout_seconds),
        auto_accept=queue.auto_accept,
    )


def agent_spec(
    user_id: uuid.UUID,
    profile: AgentProfile | None,
    tenants: frozenset[uuid.UUID],
    skills: dict[uuid.UUID, int],
) -> AgentSpec:
    """An agent as the engine sees them; one without a profile yet has the defaults."""
    if profile is None:
        return AgentSpec(id=user_id, tenants=tenants, skills=skills, languages=frozenset())
    return AgentSpec(
        id=user_id,
        tenants=tenants,
        skills=skills,
        languages=frozenset(profile.languages),
        capacity={load: getattr(profile, f"capacity_{load}") for load in Load},
        occupancy_cap=profile.occupancy_cap,
        wrap_up_seconds=float(profile.wrap_up_seconds),
    )


@dataclass(frozen=True)
class AgentPresence:
    agent_id: uuid.UUID
    presence: Presence
    reason: str | None


@dataclass
class QueueDirectory:
    """Which queue an interaction's ``queue`` name, or else its channel, sends it to."""

    by_name: dict[tuple[uuid.UUID, str], uuid.UUID] = field(default_factory=dict)
    defaults: dict[tuple[uuid.UUID, str], uuid.UUID] = field(default_factory=dict)
    wrap_up: dict[uuid.UUID, float] = field(default_factory=dict)

    def add(self, queue: Queue) -> None:
        self.remove(queue.id)
        self.by_name[(queue.tenant_id, queue.name)] = queue.id
        if queue.is_default:
            for channel in queue.channels:
                self.defaults[(queue.tenant_id, channel)] = queue.id

    def remove(self, queue_id: uuid.UUID) -> None:
        for index in (self.by_name, self.defaults):
            for key in [k for k, v in index.items() if v == queue_id]:
                del index[key]

    def resolve(self, interaction: Interaction) -> uuid.UUID | None:
        if interaction.queue is not None:
            return self.by_name.get((interaction.tenant_id, interaction.queue))
        return self.defaults.get((interaction.tenant_id, interaction.channel))


@dataclass
class Routing:
    """The engine and what the runner knows beside it."""

    engine: Engine
    queues: QueueDirectory = field(default_factory=QueueDirectory)


class EngineSession:
    def __init__(self, session: AsyncSession, routing: Routing) -> None:
        self.session = session
        self.routing = routing
        self.engine = routing.engine

    # Reading the database into the engine

    async def load_everything(self) -> list[Decision]:
        """Fill an empty engine. Agents sign in last, so each takes the most urgent waiting work
        rather than whatever happened to be loaded first."""
        for queue in (await self.session.execute(select(Queue))).scalars():
            await self._load_queue(queue)
        decisions, presences = await self._load_agent_specs(None)
        held = (
            select(Assignment, Interaction)
            .join(
                Interaction,
                (Interaction.tenant_id == Assignment.tenant_id)
                & (Interaction.id == Assignment.interaction_id),
            )
            .where(Assignment.released_at.is_(None))
        )
        for assignment, interaction in (await self.session.execute(held)).all():
            await self._restore_held(interaction, assignment)
        waiting = select(Interaction).where(Interaction.state == State.QUEUED)
        for interaction in (await self.session.execute(waiting)).scalars():
            decisions += await self._enqueue(interaction, with_affinity=False)
        return decisions + self._apply_presences(presences)

    async def reconcile(self, kind: JobKind, ref_id: uuid.UUID) -> list[Decision]:
        if kind == JobKind.ROUTING_QUEUE:
            return await self._reconcile_queue(ref_id)
        if kind == JobKind.ROUTING_AGENT:
            decisions, presences = await self._load_agent_specs(ref_id)
            return decisions + self._apply_presences(presences)
        return await self._reconcile_work(ref_id)

    async def _reconcile_queue(self, queue_id: uuid.UUID) -> list[Decision]:
        queue = (await self.session.execute(select(Queue).where(Queue.id == queue_id))).scalar()
        if queue is None:
            self.routing.queues.remove(queue_id)
            # Unknown to the engine, or work still waits there until it is moved.
            with contextlib.suppress(RoutingError):
                self.engine.remove_queue(queue_id)
            return []
        return await self._load_queue(queue)

    async def _load_queue(self, queue: Queue) -> list[Decision]:
        rows = await self.session.execute(select(QueueSkill).where(QueueSkill.queue_id == queue.id))
        skills = {row.skill_id: row.min_level for row in rows.scalars()}
        self.routing.queues.add(queue)
        return self.engine.upsert_queue(queue_spec(queue, skills))

    async def _load_agent_specs(
        self, user_id: uuid.UUID | None
    ) -> tuple[list[Decision], list[AgentPresence]]:
        """Every serving agent, or one, into the engine (an agent already signed in may take
        work that now fits); returns those decisions and the presence each agent should have:
        what the database records, offline for a user who serves no tenant."""
        memberships = select(Membership).where(Membership.role.in_(SERVING_ROLES))
        skills_query = select(AgentSkill)
        profiles_query = select(AgentProfile)
        if user_id is not None:
            memberships = memberships.where(Membership.user_id == user_id)
            skills_query = skills_query.where(AgentSkill.user_id == user_id)
            profiles_query = profiles_query.where(AgentProfile.user_id == user_id)
        tenants: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for membership in (await self.session.execute(memberships)).scalars():
            tenants[membership.user_id].add(membership.tenant_id)
        skills: dict[uuid.UUID, dict[uuid.UUID, int]] = defaultdict(dict)
        for skill in (await self.session.execute(skills_query)).scalars():
            skills[skill.user_id][skill.skill_id] = skill.level
        profiles = {p.user_id: p for p in (await self.session.execute(profiles_query)).scalars()}
        decisions: list[Decision] = []
        presences: list[AgentPresence] = []
        for agent_id in set(tenants) | set(profiles):
            profile = profiles.get(agent_id)
            spec = agent_spec(agent_id, profile, frozenset(tenants[agent_id]), skills[agent_id])
            decisions += self.engine.upsert_agent(spec)
            if profile is None or not tenants[agent_id]:
                presences.append(AgentPresence(agent_id, Presence.OFFLINE, None))
            else:
                presence = Presence(profile.presence)
                presences.append(AgentPresence(agent_id, presence, profile.presence_reason))
        return decisions, presences

    def _apply_presences(self, presences: list[AgentPresence]) -> list[Decision]:
        decisions: list[Decision] = []
        for agent in presences:
            if self.engine.agent_presence(agent.agent_id) != (agent.presence, agent.reason):
                decisions += self.engine.set_presence(agent.agent_id, agent.presence, agent.reason)
        return decisions

    async def _work_item(self, interaction: Interaction, *, with_affinity: bool) -> WorkItem | None:
        queue_id = self.routing.queues.resolve(interaction)
        if queue_id is None:
            return None
        customer = await self.session.get(
            Customer, (interaction.tenant_id, interaction.customer_id)
        )
        preferred = await self._last_agent(interaction) if with_affinity else None
        # Work for a ticket is as urgent as the ticket's nearest SLA deadline.
        deadline = None
        if interaction.ticket_id is not None:
            due = await earliest_due(self.session, interaction.ticket_id)
            deadline = _seconds(due) if due is not None else None
        return WorkItem(
            id=interaction.id,
            tenant_id=interaction.tenant_id,
            queue_id=queue_id,
            channel=interaction.channel,
            language=interaction.language,
            priority=interaction.priority,
            value_rank=ValueTier(customer.value_tier).rank if customer else 0,
            arrived_at=_seconds(interaction.queued_at or interaction.created_at),
            deadline=deadline,
            preferred_agent_id=preferred,
        )

    async def _last_agent(self, interaction: Interaction) -> uuid.UUID | None:
        """Who last served this customer: they are asked first (affinity)."""
        query = (
            select(Interaction.agent_user_id)
            .where(
                Interaction.tenant_id == interaction.tenant_id,
                Interaction.customer_id == interaction.customer_id,
                Interaction.id != interaction.id,
                Interaction.agent_user_id.is_not(None),
            )
            .order_by(Interaction.created_at.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar()

    async def _enqueue(self, interaction: Interaction, *, with_affinity: bool) -> list[Decision]:
        item = await self._work_item(interaction, with_affinity=with_affinity)
        return self.engine.enqueue(item) if item is not None else []

    async def _restore_held(self, interaction: Interaction, assignment: Assignment) -> None:
        item = await self._work_item(interaction, with_affinity=False)
        if item is None:
            item = WorkItem(
                id=interaction.id,
                tenant_id=interaction.tenant_id,
                queue_id=assignment.queue_id or uuid.UUID(int=0),
                channel=interaction.channel,
                language=interaction.language,
                priority=interaction.priority,
                value_rank=0,
                arrived_at=_seconds(interaction.queued_at or interaction.created_at),
            )
        held = _held(interaction, assignment)
        until = None
        if held == Held.OFFERED and assignment.expires_at is not None:
            until = _seconds(assignment.expires_at)
        elif held == Held.WRAP_UP:
            profile = await self.session.get(AgentProfile, assignment.agent_user_id)
            wrap_up_seconds = profile.wrap_up_seconds if profile else 60
            until = _seconds(interaction.ended_at or interaction.updated_at) + wrap_up_seconds
        self.engine.restore_held(item, assignment.agent_user_id, held, until)

    async def _reconcile_work(self, interaction_id: uuid.UUID) -> list[Decision]:
        """Make the engine see this interaction as the database does."""
        query = select(Interaction).where(Interaction.id == interaction_id)
        interaction = (await self.session.execute(query)).scalar()
        location = self.engine.locate(interaction_id)
        assignment = await work.live_assignment(self.session, interaction_id)
        if interaction is None or interaction.state not in HELD_STATES | {State.QUEUED}:
            if assignment is not None:
                await work.release(
                    self.session, assignment, Outcome.WITHDRAWN, _moment(self.engine.clock())
                )
            return self.engine.withdraw(interaction_id) if location is not None else []
        if interaction.state == State.QUEUED:
            return await self._reconcile_waiting(interaction, location)
        if assignment is None:
            return self.engine.withdraw(interaction_id) if location is not None else []
        held = _held(interaction, assignment)
        if location is not None and location.agent_id == assignment.agent_user_id:
            if location.held == Held.OFFERED and held != Held.OFFERED:
                self.engine.accept(interaction_id, assignment.agent_user_id)
            if location.held != Held.WRAP_UP and held == Held.WRAP_UP:
                self.engine.wrap_up(interaction_id)
            return []
        decisions = self.engine.withdraw(interaction_id) if location is not None else []
        await self._restore_held(interaction, assignment)
        return decisions

    async def _reconcile_waiting(self, interaction: Interaction, location: Any) -> list[Decision]:
        if location is None:
            return await self._enqueue(interaction, with_affinity=True)
        queue_id = self.routing.queues.resolve(interaction)
        if location.agent_id is None:
            if location.queue_id == queue_id:
                return []
            return self.engine.withdraw(interaction.id) + await self._enqueue(
                interaction, with_affinity=False
            )
        if location.held == Held.OFFERED:
            # The agent declined (or the offer ran out): not offered to them again.
            return self.engine.reject(interaction.id, location.agent_id)
        if queue_id is not None:
            return self.engine.transfer(interaction.id, queue_id=queue_id)
        return self.engine.withdraw(interaction.id)

    # Writing the engine's decisions

    async def write(self, decision: Decision) -> None:
        if decision.kind == DecisionKind.PRESENCE_CHANGED:
            profile = await self.session.get(AgentProfile, decision.agent_id, with_for_update=True)
            if profile is None:
                raise StaleDecision("no agent profile")
            assert decision.presence is not None
            await work.record_presence(self.session, profile, decision.presence, decision.reason)
            return
        assert decision.work_id is not None
        query = select(Interaction).where(Interaction.id == decision.work_id).with_for_update()
        interaction = (await self.session.execute(query)).scalar()
        if interaction is None:
            raise StaleDecision("no such interaction")
        now = _moment(decision.at)
        if decision.kind == DecisionKind.OFFERED:
            await self._write_offer(interaction, decision, now)
            return
        assignment = await work.live_assignment(self.session, interaction.id)
        if assignment is None or assignment.agent_user_id != decision.agent_id:
            raise StaleDecision("the agent no longer holds this work")
        if decision.kind == DecisionKind.OFFER_EXPIRED:
            if assignment.outcome != Outcome.PENDING:
                raise StaleDecision("the offer was answered")
            await work.requeue(self.session, interaction, assignment, Outcome.EXPIRED)
        elif decision.kind == DecisionKind.WRAP_UP_EXPIRED:
            if interaction.state != State.WRAP_UP:
                raise StaleDecision("not in wrap-up")
            change_state(interaction, State.ENDED, ROUTER, now)
            await work.release(self.session, assignment, Outcome.COMPLETED, now)

    async def _write_offer(
        self, interaction: Interaction, decision: Decision, now: datetime
    ) -> None:
        if interaction.state != State.QUEUED:
            raise StaleDecision(f"the work is {interaction.state}")
        if await work.live_assignment(self.session, interaction.id) is not None:
            raise StaleDecision("the work is already held")
        expires = _moment(decision.expires_at) if decision.expires_at is not None else None
        await work.hold(
            self.session,
            interaction,
            decision.agent_id,
            queue_id=decision.queue_id,
            expires_at=expires,
            accepted=decision.auto_accepted,
            now=now,
        )
