"""The event envelope, both buses, and publishing only what a transaction committed."""

import logging
import socket
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from centralita.config import Settings
from centralita.db.engine import Database
from centralita.events.bus import (
    Event,
    LocalBus,
    RedisBus,
    attach,
    emit,
    open_bus,
    tenant_topic,
    wait_for_published,
)
from centralita.events.service import SYSTEM, record_audit
from tests.conftest import TenantFixture
from tests.events import (
    drop_listener_connections,
    eventually,
    private_channel,
    reachable_redis_url,
)


def _event(tenant_id: uuid.UUID, type_: str = "interaction.offered", **data: object) -> Event:
    return Event(
        type=type_, tenant=tenant_id, data=dict(data), recipients=(tenant_topic(tenant_id),)
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- the envelope ------------------------------------------------------------------------------


def test_an_event_round_trips_through_json_with_its_data_in_json_form() -> None:
    tenant_id, interaction_id = uuid.uuid4(), uuid.uuid4()
    offered_until = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    event = Event(
        type="interaction.offered",
        tenant=tenant_id,
        data={"interaction": interaction_id, "until": offered_until, "skills": ("es", "cards")},
        recipients=(f"user:{uuid.uuid4()}", tenant_topic(tenant_id)),
    )

    again = Event.from_json(event.to_json())

    assert again == event
    assert event.data == {
        "interaction": str(interaction_id),
        "until": "2025-03-01T09:30:00Z",
        "skills": ["es", "cards"],
    }
    assert uuid.UUID(event.id).version == 7
    assert event.at.tzinfo is UTC


def test_what_a_client_receives_leaves_out_the_recipients() -> None:
    event = _event(uuid.uuid4(), queue="general")

    assert set(Event.from_json(event.to_json()).recipients) == set(event.recipients)
    assert '"recipients"' not in event.client_json
    assert f'"id":"{event.id}"' in event.client_json


def test_event_times_are_kept_in_utc() -> None:
    madrid = timezone(timedelta(hours=1))
    event = Event("ticket.sla_breached", None, {}, (), at=datetime(2025, 1, 1, 10, tzinfo=madrid))

    assert event.at == datetime(2025, 1, 1, 9, tzinfo=UTC)
    assert event.at.tzinfo is UTC


@pytest.mark.parametrize("bad_type", ["offered", "Interaction.Offered", "interaction.", "a.b.c"])
def test_event_types_are_named_noun_verb_ed(bad_type: str) -> None:
    with pytest.raises(ValueError, match=r"noun\.verb_ed"):
        Event(type=bad_type, tenant=None, data={}, recipients=())


def test_a_naive_event_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        Event("interaction.offered", None, {}, (), at=datetime(2025, 1, 1, 9))


# --- the in-process bus ------------------------------------------------------------------------


async def test_the_local_bus_reaches_every_subscriber_even_past_a_failing_one() -> None:
    bus = LocalBus()
    first: list[Event] = []
    last: list[Event] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(first.append)
    bus.subscribe(broken)
    bus.subscribe(last.append)
    events = [_event(uuid.uuid4()), _event(uuid.uuid4())]

    await bus.publish(events)
    bus.unsubscribe(first.append)
    await bus.publish([_event(uuid.uuid4())])

    assert first == events
    assert last[:2] == events
    assert len(last) == 3


def test_open_bus_uses_redis_only_when_configured() -> None:
    assert isinstance(open_bus(Settings()), LocalBus)
    assert isinstance(open_bus(Settings(redis_url="redis://127.0.0.1:6379/15")), RedisBus)


# --- publishing after commit (SQLite and PostgreSQL) -------------------------------------------


@pytest.fixture
def published(db: Database) -> list[Event]:
    bus = LocalBus()
    received: list[Event] = []
    bus.subscribe(received.append)
    attach(db.sessionmaker, bus)
    return received


async def test_events_are_published_when_the_transaction_commits_not_before(
    db: Database, tenant_a: TenantFixture, published: list[Event]
) -> None:
    event = _event(tenant_a.id, "customer.updated")
    async with db.tenant_session(tenant_a.id) as session:
        record_audit(session, tenant_a.id, SYSTEM, "customer.update", ("customer", "1"))
        emit(session, event)
        await session.flush()
        await wait_for_published()
        assert published == []

        await session.commit()
        await wait_for_published()

    assert published == [event]


async def test_a_rollback_drops_its_events_and_they_never_leak_into_the_next_commit(
    db: Database, tenant_a: TenantFixture, published: list[Event]
) -> None:
    kept = _event(tenant_a.id, "ticket.created")
    async with db.tenant_session(tenant_a.id) as session:
        record_audit(session, tenant_a.id, SYSTEM, "ticket.create", ("ticket", "1"))
        emit(session, _event(tenant_a.id, "ticket.created"))
        await session.flush()
        await session.rollback()

        emit(session, kept)
        await session.commit()
        await wait_for_published()

    assert published == [kept]


async def test_a_session_closed_without_commit_publishes_nothing(
    db: Database, tenant_a: TenantFixture, published: list[Event]
) -> None:
    kept = _event(tenant_a.id)
    session = db.tenant_session(tenant_a.id)
    record_audit(session, tenant_a.id, SYSTEM, "interaction.offer", ("interaction", "1"))
    emit(session, _event(tenant_a.id))
    await session.flush()
    await session.close()

    emit(session, kept)
    await session.commit()
    await session.close()
    await wait_for_published()

    assert published == [kept]


async def test_savepoints_keep_released_events_drop_rolled_back_ones_and_publish_nothing_alone(
    db: Database, tenant_a: TenantFixture, published: list[Event]
) -> None:
    before, lost, released = (_event(tenant_a.id, "ticket.updated", n=n) for n in range(3))
    async with db.tenant_session(tenant_a.id) as session:
        emit(session, before)
        record_audit(session, tenant_a.id, SYSTEM, "ticket.update", ("ticket", "1"))
        await session.flush()

        failed = await session.begin_nested()
        emit(session, lost)
        await failed.rollback()

        async with session.begin_nested():
            emit(session, released)
        await wait_for_published()
        assert published == []

        await session.commit()
        await wait_for_published()

    assert published == [before, released]


async def test_commits_publish_in_commit_order(
    db: Database, tenant_a: TenantFixture, published: list[Event]
) -> None:
    events = [_event(tenant_a.id, "interaction.assigned", n=n) for n in range(20)]
    for event in events:
        async with db.tenant_session(tenant_a.id) as session:
            emit(session, event)
            await session.commit()

    await wait_for_published()

    assert published == events


async def test_without_a_bus_committed_events_are_discarded_quietly(
    db: Database, tenant_a: TenantFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="centralita.events.bus")
    unattached = async_sessionmaker(db.engine)
    async with unattached() as session:
        emit(session, _event(tenant_a.id))
        await session.commit()

    assert "No bus attached to this session: 1 committed events discarded" in caplog.text


async def test_a_failing_bus_is_logged_and_the_commit_stands(
    db: Database, tenant_a: TenantFixture, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenBus(LocalBus):
        async def publish(self, events: object) -> None:
            raise ConnectionError("bus down")

    attach(db.sessionmaker, BrokenBus())
    async with db.tenant_session(tenant_a.id) as session:
        record_audit(session, tenant_a.id, SYSTEM, "customer.merge", ("customer", "1"))
        emit(session, _event(tenant_a.id, "customer.merged"))
        await session.commit()
    await wait_for_published()

    assert "Publishing 1 committed events failed" in caplog.text
    assert "bus down" in caplog.text


# --- the Redis bus -----------------------------------------------------------------------------


async def test_redis_carries_events_to_every_process_including_the_publisher() -> None:
    url, channel = await reachable_redis_url(), private_channel()
    here, there = RedisBus(url, channel), RedisBus(url, channel)
    heard_here: list[Event] = []
    heard_there: list[Event] = []
    here.subscribe(heard_here.append)
    there.subscribe(heard_there.append)
    await here.start()
    await there.start()
    events = [_event(uuid.uuid4(), n=n) for n in range(50)]
    try:
        await here.publish(events[:25])
        await here.publish(events[25:])
        await eventually(lambda: len(heard_there) == 50 and len(heard_here) == 50)
    finally:
        await here.close()
        await there.close()

    assert heard_there == events
    assert heard_here == events


async def test_redis_bus_reconnects_after_losing_its_connection_and_reports_the_gap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="centralita.events.bus")
    url, channel = await reachable_redis_url(), private_channel()
    bus = RedisBus(url, channel)
    heard: list[Event] = []
    gaps: list[None] = []
    bus.subscribe(heard.append, on_gap=lambda: gaps.append(None))
    await bus.start()
    try:
        assert await drop_listener_connections(url, channel) == 1

        await eventually(lambda: gaps == [None])
        event = _event(uuid.uuid4())
        await bus.publish([event])
        await eventually(lambda: heard == [event])
    finally:
        await bus.close()

    assert f"Redis event channel {channel} unavailable" in caplog.text
    assert f"Reconnected to the Redis event channel {channel}" in caplog.text


async def test_with_redis_down_the_bus_starts_and_publishing_drops_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = RedisBus(f"redis://127.0.0.1:{_free_port()}/0", private_channel())
    await bus.start()
    try:
        await bus.publish([_event(uuid.uuid4(), "interaction.offered")])
    finally:
        await bus.close()

    assert "Redis unreachable, 1 events dropped (interaction.offered)" in caplog.text
