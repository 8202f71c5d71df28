"""Facts are written with the change they describe: in its transaction, and cheaply."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from centralita.customers.service import IdentityRules
from centralita.db.base import utcnow
from centralita.db.scoping import TenantScopeError
from centralita.events.service import Actor
from centralita.interactions import service as interactions
from centralita.interactions.models import Channel, InteractionState
from centralita.interactions.schemas import IdentityIn, InteractionCreate
from centralita.reporting.facts import fact, record_facts
from centralita.reporting.models import FactKind, InteractionFact
from tests.conftest import TenantFixture
from tests.reporting.helpers import Outcome, add_queue, contact

State = InteractionState
AGENT = Actor("agent")


@pytest.fixture
async def tenant(tenant_a: TenantFixture, tenant_b: TenantFixture) -> TenantFixture:
    await add_queue(tenant_a)
    await add_queue(tenant_b)
    return tenant_a


async def _queued_work(tenant: TenantFixture) -> uuid.UUID:
    async with tenant.db.tenant_session(tenant.id) as session:
        thread = await interactions.create_interaction(
            session,
            tenant.tenant,
            Actor("test"),
            InteractionCreate(
                channel=Channel.CHAT,
                identity=IdentityIn(kind="email", value=f"c{secrets.token_hex(4)}@example.com"),
                queue="ventas",
            ),
            IdentityRules.for_tenant(tenant.tenant, "test-secret"),
        )
        await session.commit()
        return thread.interaction.id


async def _kinds(tenant: TenantFixture, work_id: uuid.UUID) -> list[str]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = (
            select(InteractionFact.kind)
            .where(InteractionFact.interaction_id == work_id)
            .order_by(InteractionFact.at, InteractionFact.id)
        )
        return list((await session.execute(query)).scalars())


async def _state(tenant: TenantFixture, work_id: uuid.UUID) -> str:
    async with tenant.db.tenant_session(tenant.id) as session:
        return (await interactions.get_interaction(session, work_id)).state


@pytest.mark.parametrize("flushed", [False, True], ids=["pending", "flushed"])
async def test_a_rolled_back_change_leaves_no_fact(tenant: TenantFixture, flushed: bool) -> None:
    work_id = await _queued_work(tenant)

    async with tenant.db.tenant_session(tenant.id) as session:
        work = await interactions.get_interaction(session, work_id, for_update=True)
        interactions.change_state(work, State.ABANDONED, AGENT)
        if flushed:
            await session.flush()
        await session.rollback()
        # The session goes on: nothing of the rolled-back change comes back with a later commit.
        await session.commit()

    assert await _state(tenant, work_id) == State.QUEUED
    assert await _kinds(tenant, work_id) == [FactKind.OFFERED]


@pytest.mark.parametrize("flushed", [False, True], ids=["pending", "flushed"])
async def test_a_rolled_back_savepoint_takes_its_facts_and_keeps_the_others(
    tenant: TenantFixture, flushed: bool
) -> None:
    kept_id, undone_id = await _queued_work(tenant), await _queued_work(tenant)

    async with tenant.db.tenant_session(tenant.id) as session:
        kept = await interactions.get_interaction(session, kept_id, for_update=True)
        undone = await interactions.get_interaction(session, undone_id, for_update=True)
        interactions.change_state(kept, State.ABANDONED, AGENT)
        savepoint = await session.begin_nested()
        interactions.change_state(undone, State.ABANDONED, AGENT)
        if flushed:
            await session.flush()
        await savepoint.rollback()
        await session.commit()

    assert await _kinds(tenant, kept_id) == [FactKind.OFFERED, FactKind.ABANDONED]
    assert await _state(tenant, undone_id) == State.QUEUED
    assert await _kinds(tenant, undone_id) == [FactKind.OFFERED]


async def test_the_facts_of_one_flush_are_one_statement(tenant: TenantFixture) -> None:
    fact_inserts: list[str] = []

    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Alone, or within the statement that creates the interaction (PostgreSQL).
        if "INSERT INTO reporting_facts" in statement:
            fact_inserts.append(statement)

    engine = tenant.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", _record)
    try:
        # Created (one flush), then answered, wrapped up and ended (flushed by the commit).
        work_id = await contact(tenant, Outcome(answered_after=10, talk=60, wrap=15))
    finally:
        event.remove(engine, "before_cursor_execute", _record)

    assert await _kinds(tenant, work_id) == [
        FactKind.OFFERED,
        FactKind.ANSWERED,
        FactKind.ENDED,
        FactKind.HANDLED,
    ]
    assert len(fact_inserts) == 2


@dataclass(frozen=True)
class Work:
    """Just what a fact reads of an interaction."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    channel: str
    queue: str | None
    topic: str | None
    customer_id: uuid.UUID
    agent_user_id: uuid.UUID | None
    queued_at: datetime | None
    answered_at: datetime | None


def _work(tenant: TenantFixture) -> Work:
    now = utcnow()
    return Work(tenant.id, uuid.uuid4(), "chat", "ventas", None, uuid.uuid4(), None, now, None)


async def test_a_fact_alone_is_committed_and_one_of_another_tenant_refused(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    mine, theirs = _work(tenant_a), _work(tenant_b)

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        # Nothing else to flush: the commit writes the fact all the same.
        record_facts(session, [fact(mine, FactKind.OFFERED, utcnow())])
        await session.commit()
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        record_facts(session, [fact(theirs, FactKind.OFFERED, utcnow())])
        with pytest.raises(TenantScopeError):
            await session.commit()

    assert await _kinds(tenant_a, mine.id) == [FactKind.OFFERED]
    async with tenant_b.db.system_session() as session:
        smuggled = select(InteractionFact).where(InteractionFact.interaction_id == theirs.id)
        assert (await session.execute(smuggled)).first() is None
