"""SLA timers through the durable-job worker: escalations fire once, in order, whatever happens.

Workers run step by step with their own clocks, at instants long past: the jobs other tests leave
in the shared database fall due later and are never claimed here, and these tests assert only on
their own tickets.
"""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from centralita.config import Settings
from centralita.db.engine import Database
from centralita.events.bus import Event, supervisors_topic, user_topic, wait_for_published
from centralita.events.models import AuditEntry
from centralita.identity import service as identity
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.jobs.worker import JobWorker
from centralita.sla.models import TargetKind, TargetStatus
from centralita.sla.service import SlaEvent
from centralita.tickets.escalations import JOB_HANDLERS
from centralita.tickets.models import Team, TeamMember, Ticket
from tests.conftest import TenantFixture
from tests.sla.test_service import make_policy, make_ticket, target, timers_of, track

START = datetime(2001, 3, 5, 9, tzinfo=UTC)  # a Monday, before any other test's timers
MINUTE = timedelta(minutes=1)
RESOLUTION_IN_AN_HOUR = {
    "P1": {"resolution": 60},
    "P2": {"resolution": 60},
    "P3": {"resolution": 60},
}


@pytest.fixture
def published(app: FastAPI) -> Iterator[list[Event]]:
    """Every event published on the application's bus during the test."""
    events: list[Event] = []
    app.state.bus.subscribe(events.append)
    yield events
    app.state.bus.unsubscribe(events.append)


def worker_at(db: Database, at: datetime, **options: Any) -> JobWorker:
    return JobWorker(db, JOB_HANDLERS, clock=lambda: at, **options)


async def audit_actions(db: Database, tenant_id: uuid.UUID, ticket_id: uuid.UUID) -> list[str]:
    async with db.tenant_session(tenant_id) as session:
        query = (
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "ticket", AuditEntry.entity_id == str(ticket_id))
            .order_by(AuditEntry.at)
        )
        return list((await session.execute(query)).scalars())


async def ticket_row(tenant: TenantFixture, ticket_id: uuid.UUID) -> Ticket:
    async with tenant.db.tenant_session(tenant.id) as session:
        ticket = await session.get(Ticket, (tenant.id, ticket_id))
        assert ticket is not None
        return ticket


def about(events: list[Event], ticket_id: uuid.UUID) -> list[Event]:
    return [e for e in events if e.data.get("ticket_id") == str(ticket_id)]


async def test_a_breach_due_while_no_worker_ran_fires_once_when_one_starts(
    tenant_a: TenantFixture, tenant_b: TenantFixture, published: list[Event]
) -> None:
    escalations = [
        {"target": "resolution", "percent": 50, "notify": ["supervisors"]},
        {"target": "resolution", "percent": 100, "raise_priority": True},
    ]
    await make_policy(tenant_a, RESOLUTION_IN_AN_HOUR, escalations=escalations)
    ticket = await make_ticket(tenant_a, START)
    await track(tenant_a, ticket, SlaEvent.CREATED, START)
    resolution = await target(tenant_a, ticket.id, TargetKind.RESOLUTION)
    assert await timers_of(tenant_a, resolution.id) == [START + 30 * MINUTE]

    # Down past both steps; the first worker to start catches up.
    await worker_at(tenant_a.db, START + 3 * 60 * MINUTE).step()
    await worker_at(tenant_a.db, START + 4 * 60 * MINUTE).step()
    await wait_for_published()

    assert [e.type for e in about(published, ticket.id)] == [
        "ticket.sla_escalated",
        "ticket.sla_breached",
    ]
    escalated, breached = about(published, ticket.id)
    assert escalated.recipients == (supervisors_topic(tenant_a.id),)
    assert datetime.fromisoformat(breached.data["due_at"]) == START + 60 * MINUTE
    assert await audit_actions(tenant_a.db, tenant_a.id, ticket.id) == ["ticket.priority_raised"]
    raised = await ticket_row(tenant_a, ticket.id)
    assert (raised.priority, raised.priority_overridden) == ("P2", True)
    breach = await target(tenant_a, ticket.id, TargetKind.RESOLUTION)
    assert (breach.status, breach.breached_at) == (TargetStatus.BREACHED, START + 60 * MINUTE)
    assert breach.escalations_fired == 2
    assert await timers_of(tenant_a, resolution.id) == []


async def test_a_step_due_later_waits_for_its_time(
    tenant_a: TenantFixture, tenant_b: TenantFixture, published: list[Event]
) -> None:
    escalations = [{"target": "resolution", "percent": 75, "notify": ["supervisors"]}]
    await make_policy(tenant_a, RESOLUTION_IN_AN_HOUR, escalations=escalations)
    ticket = await make_ticket(tenant_a, START)
    await track(tenant_a, ticket, SlaEvent.CREATED, START)
    resolution = await target(tenant_a, ticket.id, TargetKind.RESOLUTION)

    await worker_at(tenant_a.db, START + 50 * MINUTE).step()
    await wait_for_published()

    assert [e.type for e in about(published, ticket.id)] == ["ticket.sla_escalated"]
    assert await timers_of(tenant_a, resolution.id) == [START + 60 * MINUTE]
    running = await target(tenant_a, ticket.id, TargetKind.RESOLUTION)
    assert (running.status, running.escalations_fired) == (TargetStatus.ACTIVE, 1)


async def test_an_achieved_target_fires_nothing(
    tenant_a: TenantFixture, tenant_b: TenantFixture, published: list[Event]
) -> None:
    await make_policy(tenant_a, RESOLUTION_IN_AN_HOUR)
    ticket = await make_ticket(tenant_a, START)
    await track(tenant_a, ticket, SlaEvent.CREATED, START)
    resolution = await target(tenant_a, ticket.id, TargetKind.RESOLUTION)
    async with tenant_a.db.system_session() as session:
        # A stale timer, as a crash between two writes could leave.
        schedule(session, JobKind.SLA_ESCALATION, ref_id=resolution.id, due_at=START)
        await session.commit()
    await track(tenant_a, ticket, SlaEvent.CHANGED, START + 10 * MINUTE, status="resolved")
    async with tenant_a.db.system_session() as session:
        schedule(session, JobKind.SLA_ESCALATION, ref_id=resolution.id, due_at=START)
        await session.commit()

    await worker_at(tenant_a.db, START + 2 * 60 * MINUTE).step()
    await wait_for_published()

    assert about(published, ticket.id) == []
    assert (await target(tenant_a, ticket.id, TargetKind.RESOLUTION)).status == "achieved"
    assert await timers_of(tenant_a, resolution.id) == []


async def test_an_escalation_hands_the_ticket_to_a_team_and_tells_who_should_know(
    tenant_a: TenantFixture, tenant_b: TenantFixture, published: list[Event]
) -> None:
    passwords = identity.Passwords(Settings(argon2_time_cost=1, argon2_memory_kib=64))
    async with tenant_a.db.system_session() as session:
        agent, expert = [
            await identity.create_user(
                session,
                passwords,
                email=f"{uuid.uuid4().hex[:10]}@example.com",
                display_name=name,
                password="a long enough password",
            )
            for name in ("Agent", "Expert")
        ]
        first_line = Team(tenant_id=tenant_a.id, name="First line")
        tier_two = Team(tenant_id=tenant_a.id, name="Tier 2")
        session.add_all([first_line, tier_two])
        await session.flush()
        session.add(TeamMember(tenant_id=tenant_a.id, team_id=tier_two.id, user_id=expert.id))
        await session.commit()
    step = {
        "target": "resolution",
        "percent": 80,
        "notify": ["assignee", "team"],
        "reassign_team_id": str(tier_two.id),
    }
    await make_policy(tenant_a, RESOLUTION_IN_AN_HOUR, escalations=[step])
    ticket = await make_ticket(tenant_a, START, team_id=first_line.id, assignee_user_id=agent.id)
    await track(tenant_a, ticket, SlaEvent.CREATED, START)

    await worker_at(tenant_a.db, START + 50 * MINUTE).step()
    await wait_for_published()

    (escalated,) = about(published, ticket.id)
    assert escalated.type == "ticket.sla_escalated"
    assert set(escalated.recipients) == {user_topic(agent.id), user_topic(expert.id)}
    handed = await ticket_row(tenant_a, ticket.id)
    assert (handed.team_id, handed.assignee_user_id) == (tier_two.id, None)
    assert await audit_actions(tenant_a.db, tenant_a.id, ticket.id) == ["ticket.team_reassigned"]


async def test_the_worker_leaves_other_consumers_jobs_alone(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    ref = uuid.uuid4()
    async with tenant_a.db.system_session() as session:
        schedule(session, JobKind.ROUTING_WORK, ref_id=ref, due_at=START)
        await session.commit()

    await worker_at(tenant_a.db, START + MINUTE).step()

    async with tenant_a.db.system_session() as session:
        left = await session.scalars(delete(Job).where(Job.ref_id == ref).returning(Job.id))
        assert len(left.all()) == 1
        await session.commit()


async def test_a_failing_job_is_undone_and_tried_again_later(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    marker, failing, fine = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def leave_a_mark_then_fail(session, job, now):
        schedule(session, "test.mark", ref_id=marker, due_at=now)
        raise RuntimeError("the handler broke")

    async def succeed(session, job, now):
        schedule(session, "test.mark", ref_id=job.ref_id, due_at=now)

    async with tenant_a.db.system_session() as session:
        schedule(session, "test.fail", ref_id=failing, due_at=START)
        schedule(session, "test.ok", ref_id=fine, due_at=START)
        await session.commit()
    worker = JobWorker(
        tenant_a.db,
        {"test.fail": leave_a_mark_then_fail, "test.ok": succeed},
        clock=lambda: START,
    )

    await worker.step()

    async with tenant_a.db.system_session() as session:
        jobs = {
            (job.kind, job.ref_id): job
            for job in (await session.execute(select(Job).where(Job.kind.like("test.%")))).scalars()
        }
        for job in jobs.values():
            await session.delete(job)
        await session.commit()
    assert set(jobs) == {("test.fail", failing), ("test.mark", fine)}
    retry = jobs[("test.fail", failing)]
    assert (retry.attempts, retry.due_at) == (1, START + timedelta(seconds=2))


# --- PostgreSQL: several workers, busy tickets ---------------------------------------------------


async def test_two_workers_never_fire_an_escalation_twice(
    tenant_a: TenantFixture, tenant_b: TenantFixture, backend: str, published: list[Event]
) -> None:
    if backend != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL (SQLite runs one writer at a time)")
    escalations = [{"target": "resolution", "percent": 100, "raise_priority": True}]
    await make_policy(tenant_a, RESOLUTION_IN_AN_HOUR, escalations=escalations)
    tickets = [await make_ticket(tenant_a, START) for _ in range(50)]
    for ticket in tickets:
        await track(tenant_a, ticket, SlaEvent.CREATED, START)
    due = START + 2 * 60 * MINUTE

    async def work(worker: JobWorker) -> None:
        while await worker.step():
            pass

    await asyncio.gather(
        work(worker_at(tenant_a.db, due, batch_size=5)),
        work(worker_at(tenant_a.db, due, batch_size=5)),
    )
    await wait_for_published()

    for ticket in tickets:
        assert await audit_actions(tenant_a.db, tenant_a.id, ticket.id) == [
            "ticket.priority_raised"
        ]
        assert (await ticket_row(tenant_a, ticket.id)).priority == "P2"
        assert [e.type for e in about(published, ticket.id)] == ["ticket.sla_breached"]
        resolution = await target(tenant_a, ticket.id, TargetKind.RESOLUTION)
        assert resolution.escalations_fired == 1
        assert await timers_of(tenant_a, resolution.id) == []


async def test_a_ticket_busy_in_another_transaction_is_escalated_a_moment_later(
    tenant_a: TenantFixture, tenant_b: TenantFixture, backend: str, published: list[Event]
) -> None:
    if backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite runs one writer at a time)")
    await make_policy(tenant_a, RESOLUTION_IN_AN_HOUR)
    ticket = await make_ticket(tenant_a, START)
    await track(tenant_a, ticket, SlaEvent.CREATED, START)
    resolution = await target(tenant_a, ticket.id, TargetKind.RESOLUTION)
    due = START + 2 * 60 * MINUTE

    async with tenant_a.db.tenant_session(tenant_a.id) as holder:
        await holder.execute(select(Ticket).where(Ticket.id == ticket.id).with_for_update())
        await asyncio.wait_for(worker_at(tenant_a.db, due).step(), timeout=10)
        await holder.rollback()

    assert await timers_of(tenant_a, resolution.id) == [due + timedelta(seconds=2)]
    await worker_at(tenant_a.db, due + timedelta(seconds=2)).step()
    await wait_for_published()
    assert [e.type for e in about(published, ticket.id)] == ["ticket.sla_breached"]
    assert await timers_of(tenant_a, resolution.id) == []
