"""The router against the real database: decisions become rows, agents' commands reach the engine,
and the database's constraints keep work with one agent and agents within capacity."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from centralita.config import Settings
from centralita.db.base import new_id, utcnow
from centralita.events.service import Actor
from centralita.identity.models import User
from centralita.interactions.models import Channel, InteractionState
from centralita.interactions.service import get_interaction
from centralita.routing import work
from centralita.routing.engine import Held, Presence
from centralita.routing.models import Assignment, Outcome
from centralita.routing.runner import RoutingRunner
from centralita.sla.models import SlaPolicy, SlaTarget, TargetKind
from centralita.tickets.models import Priority, Ticket, TicketType
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world

State = InteractionState


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    # tenant_b is present so every test runs with a second tenant in the database.
    return await make_world(tenant_a, settings)


def actor(user: User) -> Actor:
    return Actor(label=user.email, user_id=user.id)


async def test_waiting_work_is_offered_to_an_available_skilled_agent(world: World) -> None:
    unskilled = await world.agent(level=1)
    skilled = await world.agent(level=4)
    await world.start_router()

    work_id = await world.arrive()
    await world.step()

    interaction = await world.interaction(work_id)
    assert interaction.state == State.OFFERED
    assert interaction.agent_user_id == skilled.id
    (offer,) = await world.assignments(work_id)
    assert offer.outcome == Outcome.PENDING
    assert offer.expires_at is not None
    assert (await world.profile(skilled)).load_chat == 1
    assert (await world.profile(unskilled)).load_chat == 0


async def test_accepted_work_is_active_and_the_engine_follows(world: World) -> None:
    agent = await world.agent()
    runner = await world.start_router()
    work_id = await world.arrive()
    await world.step()

    async with world.db.tenant_session(world.tenant.id) as session:
        await work.accept(session, actor(agent), work_id)
        await session.commit()
    await world.step()

    assert (await world.interaction(work_id)).state == State.ACTIVE
    assert runner.routing is not None
    location = runner.routing.engine.locate(work_id)
    assert location is not None
    assert location.held == Held.ACTIVE


async def test_an_offer_not_answered_in_time_goes_to_the_next_agent(world: World) -> None:
    first = await world.agent(level=5)
    second = await world.agent(level=3)
    await world.start_router()
    work_id = await world.arrive()
    await world.step()
    assert (await world.interaction(work_id)).agent_user_id == first.id

    world.clock.advance(16)
    await world.step()

    expired, offered = await world.assignments(work_id)
    assert (expired.agent_user_id, expired.outcome) == (first.id, Outcome.EXPIRED)
    assert (offered.agent_user_id, offered.outcome) == (second.id, Outcome.PENDING)
    assert (await world.profile(first)).load_chat == 0


async def test_two_missed_offers_in_a_row_set_the_agent_away(world: World) -> None:
    agent = await world.agent()
    await world.start_router()
    for _ in range(2):
        await world.arrive()
        await world.step()
        world.clock.advance(16)
        await world.step()

    profile = await world.profile(agent)
    assert (profile.presence, profile.presence_reason) == (Presence.AWAY, "missed")


async def test_a_rejected_offer_goes_to_another_agent_not_back_to_the_same(world: World) -> None:
    first = await world.agent(level=5)
    second = await world.agent(level=3)
    await world.start_router()
    work_id = await world.arrive()
    await world.step()

    async with world.db.tenant_session(world.tenant.id) as session:
        await work.reject(session, actor(first), work_id)
        await session.commit()
    await world.step()

    rejected, offered = await world.assignments(work_id)
    assert rejected.outcome == Outcome.REJECTED
    assert offered.agent_user_id == second.id


async def test_wrap_up_done_frees_the_agent_for_the_next_call(world: World) -> None:
    agent = await world.agent()
    await world.start_router()
    first = await world.arrive(Channel.VOICE)
    second = await world.arrive(Channel.VOICE)
    await world.step()
    assert (await world.interaction(second)).state == State.QUEUED

    async with world.db.tenant_session(world.tenant.id) as session:
        await work.accept(session, actor(agent), first)
        await work.end_conversation(session, actor(agent), first)
        await session.commit()
    await world.step()
    assert (await world.interaction(second)).state == State.QUEUED

    async with world.db.tenant_session(world.tenant.id) as session:
        await work.complete(session, actor(agent), first, "resolved", "Cliente satisfecho")
        await session.commit()
    await world.step()

    done = await world.interaction(first)
    assert (done.state, done.disposition) == (State.ENDED, "resolved")
    assert (await world.interaction(second)).agent_user_id == agent.id


async def test_a_restarted_router_keeps_every_assignment_and_adds_none(world: World) -> None:
    agents = [await world.agent() for _ in range(2)]
    await world.start_router()
    waiting = [await world.arrive() for _ in range(8)]
    await world.step()

    restarted = RoutingRunner(world.db, clock=world.clock)
    await restarted.rebuild()
    await restarted.step()

    assert restarted.routing is not None
    for work_id in waiting:
        offers = await world.assignments(work_id)
        assert len(offers) <= 1
        location = restarted.routing.engine.locate(work_id)
        assert location is not None
        assert location.agent_id == (offers[0].agent_user_id if offers else None)
    loads = [(await world.profile(agent)).load_chat for agent in agents]
    assert loads == [3, 3]


async def test_the_database_refuses_work_beyond_capacity_and_a_second_holder(
    world: World,
) -> None:
    agent = await world.agent()
    other = await world.agent()
    calls = [await world.arrive(Channel.VOICE) for _ in range(2)]

    async with world.db.tenant_session(world.tenant.id) as session:
        first, second = [await get_interaction(session, call) for call in calls]
        await work.hold(
            session, first, agent.id, queue_id=None, expires_at=None, accepted=True, now=utcnow()
        )
        with pytest.raises(work.CapacityExceeded):
            await work.hold(
                session,
                second,
                agent.id,
                queue_id=None,
                expires_at=None,
                accepted=True,
                now=utcnow(),
            )
        await session.commit()

    async with world.db.tenant_session(world.tenant.id) as session:
        session.add(
            Assignment(
                tenant_id=world.tenant.id,
                id=new_id(),
                interaction_id=calls[0],
                agent_user_id=other.id,
                load="voice",
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()

    live = select(Assignment).where(
        Assignment.released_at.is_(None), Assignment.agent_user_id == agent.id
    )
    async with world.db.tenant_session(world.tenant.id) as session:
        assert len((await session.execute(live)).scalars().all()) == 1
    assert (await world.profile(agent)).load_voice == 1


async def test_ticket_work_is_as_urgent_as_its_sla_deadline(world: World) -> None:
    """Older plain work (due 20 s after it arrived) waits while work for a ticket whose SLA is
    already overdue goes first."""
    agent = await world.agent(capacity_chat=1, presence=Presence.OFFLINE)
    older = await world.arrive()
    urgent = await world.arrive()
    now = utcnow()
    async with world.db.tenant_session(world.tenant.id) as session:
        interaction = await get_interaction(session, urgent)
        policy = SlaPolicy(tenant_id=world.tenant.id, name="P1 en una hora")
        ticket = Ticket(
            tenant_id=world.tenant.id,
            number=1,
            type=TicketType.INCIDENT,
            subject="Caída del servicio",
            requester_id=interaction.customer_id,
            priority=Priority.P1,
        )
        session.add_all([policy, ticket])
        await session.flush()
        session.add(
            SlaTarget(
                tenant_id=world.tenant.id,
                ticket_id=ticket.id,
                policy_id=policy.id,
                kind=TargetKind.RESOLUTION,
                target_minutes=60,
                started_at=now - timedelta(minutes=61),
                due_at=now - timedelta(minutes=1),
            )
        )
        interaction.ticket_id = ticket.id
        await session.commit()
    await world.start_router()

    async with world.db.system_session() as session:
        await work.set_presence(session, agent.id, Presence.AVAILABLE, None)
        await session.commit()
    await world.step()

    assert (await world.interaction(urgent)).agent_user_id == agent.id
    assert (await world.interaction(older)).state == State.QUEUED
