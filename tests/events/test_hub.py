"""The WebSocket hub over real sockets: uvicorn serves it, the ``websockets`` library connects."""

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from centralita.db.engine import Database
from centralita.events.bus import Event, LocalBus, RedisBus, attach, emit, tenant_topic
from centralita.events.hub import Hub, serve_websocket
from centralita.events.service import SYSTEM, record_audit
from tests.conftest import TenantFixture
from tests.events import (
    drop_listener_connections,
    eventually,
    private_channel,
    reachable_redis_url,
)

SNAPSHOT = {"agents": [{"name": "Ana", "state": "available"}]}
TENANT_A, TENANT_B = uuid.uuid4(), uuid.uuid4()


def _event(tenant_id: uuid.UUID = TENANT_A, **data: Any) -> Event:
    return Event("interaction.offered", tenant_id, data, (tenant_topic(tenant_id),))


@asynccontextmanager
async def serving(hub: Hub) -> AsyncIterator[str]:
    """A uvicorn server on a free port whose ``/ws`` endpoint serves ``hub``.

    The query string stands in for what a real endpoint computes after authentication: topics,
    whether to send a snapshot, and the client's last event id.
    """

    async def endpoint(websocket: WebSocket) -> None:
        params = websocket.query_params
        await serve_websocket(
            websocket,
            hub,
            topics=frozenset(params["topics"].split(",")),
            snapshot=SNAPSHOT if "snapshot" in params else None,
            last_event_id=params.get("last_event_id"),
        )

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    running = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or running.done())
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        server.should_exit = True
        await running


def _url(base: str, *topics: str, snapshot: bool = True, last_event_id: str | None = None) -> str:
    params = {"topics": ",".join(topics)}
    if snapshot:
        params["snapshot"] = "1"
    if last_event_id is not None:
        params["last_event_id"] = last_event_id
    return f"{base}?{urlencode(params)}"


async def _receive(client: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(5):
        message: dict[str, Any] = json.loads(await client.recv())
    return message


async def _until_closed(client: ClientConnection) -> AsyncIterator[dict[str, Any]]:
    async with asyncio.timeout(5):
        async for message in client:
            yield json.loads(message)


async def _expect_snapshot(client: ClientConnection) -> None:
    """The snapshot is sent once the subscription is registered: events after it are not missed."""
    assert await _receive(client) == {"type": "snapshot", **SNAPSHOT}


@pytest.fixture
def bus() -> LocalBus:
    return LocalBus()


async def test_a_client_gets_its_snapshot_first_then_events_for_its_topics(bus: LocalBus) -> None:
    hub = Hub(bus)
    event = _event(interaction=uuid.uuid4())
    async with serving(hub) as base, connect(_url(base, tenant_topic(TENANT_A))) as client:
        await _expect_snapshot(client)
        await bus.publish([event])

        assert await _receive(client) == {
            "id": event.id,
            "type": "interaction.offered",
            "tenant": str(TENANT_A),
            "data": event.data,
            "at": event.at.isoformat().replace("+00:00", "Z"),
        }


async def test_events_for_another_tenant_never_reach_the_client(bus: LocalBus) -> None:
    hub = Hub(bus)
    async with serving(hub) as base, connect(_url(base, tenant_topic(TENANT_A))) as client:
        await _expect_snapshot(client)
        others = [_event(TENANT_B, n=n) for n in range(5)]
        mine = _event(TENANT_A, n=5)
        await bus.publish([*others, mine])

        # Events arrive in publish order, so the first one received proves the others were skipped.
        assert (await _receive(client))["id"] == mine.id


async def test_an_event_to_several_of_a_clients_topics_arrives_once(bus: LocalBus) -> None:
    hub = Hub(bus)
    agent = f"user:{uuid.uuid4()}"
    both = Event("interaction.assigned", TENANT_A, {}, (agent, tenant_topic(TENANT_A)))
    after = _event(TENANT_A)
    async with serving(hub) as base, connect(_url(base, agent, tenant_topic(TENANT_A))) as client:
        await _expect_snapshot(client)
        await bus.publish([both, after])

        assert [(await _receive(client))["id"] for _ in range(2)] == [both.id, after.id]


async def test_a_reconnecting_client_gets_what_it_missed_in_order(bus: LocalBus) -> None:
    hub = Hub(bus)
    topic = tenant_topic(TENANT_A)
    seen, *missed = (_event(TENANT_A, n=n) for n in range(4))
    async with serving(hub) as base:
        async with connect(_url(base, topic)) as client:
            await _expect_snapshot(client)
            await bus.publish([seen])
            last_id = (await _receive(client))["id"]

        await bus.publish([missed[0], _event(TENANT_B), missed[1]])
        await bus.publish([missed[2]])

        reconnect = _url(base, topic, snapshot=False, last_event_id=last_id)
        async with connect(reconnect) as client:
            replayed = [(await _receive(client))["id"] for _ in missed]
            live = _event(TENANT_A)
            await bus.publish([live])

            assert replayed == [event.id for event in missed]
            assert (await _receive(client))["id"] == live.id


@pytest.mark.parametrize("last_event_id", ["never-seen", "expired"])
async def test_a_client_that_cannot_be_replayed_to_is_told_to_resync(
    bus: LocalBus, last_event_id: str
) -> None:
    hub = Hub(bus, replay_size=3)
    old, *newer = (_event(TENANT_A, n=n) for n in range(5))
    await bus.publish([old, *newer])
    last_id = old.id if last_event_id == "expired" else last_event_id
    async with serving(hub) as base:
        url = _url(base, tenant_topic(TENANT_A), snapshot=False, last_event_id=last_id)
        client = await connect(url)
        assert await _receive(client) == {"type": "resync"}
        with pytest.raises(ConnectionClosed):
            await _receive(client)

    assert client.close_code == 1000
    assert client.close_reason == "resync"


async def test_a_ping_is_answered_with_a_pong(bus: LocalBus) -> None:
    hub = Hub(bus)
    async with serving(hub) as base, connect(_url(base, tenant_topic(TENANT_A))) as client:
        await _expect_snapshot(client)
        await client.send("not json")
        await client.send(json.dumps({"type": "ping"}))

        assert await _receive(client) == {"type": "pong"}


async def test_a_slow_client_is_dropped_with_resync_and_the_others_keep_up(
    bus: LocalBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="centralita.events.hub")
    hub = Hub(bus, queue_size=8)
    topic = tenant_topic(TENANT_A)
    padding = "x" * 100_000  # fills socket buffers quickly, so the slow client holds up its sender
    # A client that reads nothing: its library stops reading from the socket after one frame.
    # Without compression, the padding really travels.
    async with (
        serving(hub) as base,
        connect(_url(base, topic)) as fast,
        connect(_url(base, topic), max_queue=1, compression=None) as slow,
    ):
        await _expect_snapshot(fast)
        await _expect_snapshot(slow)
        published: list[str] = []
        while "fell 8 events behind" not in caplog.text:
            assert len(published) < 1_000, "the slow client was never dropped"
            event = _event(TENANT_A, padding=padding)
            await bus.publish([event])
            published.append(event.id)
            assert (await _receive(fast))["id"] == event.id

        after_drop = _event(TENANT_A)
        await bus.publish([after_drop])
        assert (await _receive(fast))["id"] == after_drop.id

        slow_received = [message async for message in _until_closed(slow)]

    assert slow_received[-1] == {"type": "resync"}
    assert [message["id"] for message in slow_received[:-1]] == published[: len(slow_received) - 1]


async def test_closing_the_hub_tells_clients_to_reconnect_elsewhere(bus: LocalBus) -> None:
    hub = Hub(bus)
    async with serving(hub) as base, connect(_url(base, tenant_topic(TENANT_A))) as client:
        await _expect_snapshot(client)
        hub.close()
        with pytest.raises(ConnectionClosed):
            await _receive(client)

    assert client.close_code == 1012


async def test_only_committed_events_reach_the_screen(
    db: Database, tenant_a: TenantFixture, bus: LocalBus
) -> None:
    hub = Hub(bus)
    attach(db.sessionmaker, bus)
    topic = tenant_topic(tenant_a.id)
    rolled_back = Event("ticket.created", tenant_a.id, {"n": 1}, (topic,))
    committed = Event("ticket.created", tenant_a.id, {"n": 2}, (topic,))
    async with serving(hub) as base, connect(_url(base, topic)) as client:
        await _expect_snapshot(client)
        for event, commit in ((rolled_back, False), (committed, True)):
            async with db.tenant_session(tenant_a.id) as session:
                record_audit(session, tenant_a.id, SYSTEM, "ticket.create", ("ticket", "1"))
                emit(session, event)
                await (session.commit() if commit else session.rollback())

        assert (await _receive(client))["id"] == committed.id


# --- several processes through Redis -----------------------------------------------------------


@pytest.fixture
async def redis_channel() -> tuple[str, str]:
    return await reachable_redis_url(), private_channel()


@pytest.fixture
async def redis_buses(redis_channel: tuple[str, str]) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two buses on one channel, as two API processes would have."""
    buses = RedisBus(*redis_channel), RedisBus(*redis_channel)
    for bus in buses:
        await bus.start()
    yield buses
    for bus in buses:
        await bus.close()


async def test_an_event_published_in_one_process_reaches_a_socket_served_by_another(
    redis_buses: tuple[RedisBus, RedisBus],
) -> None:
    here, there = redis_buses
    Hub(here)
    hub_there = Hub(there)
    event = _event(TENANT_A)
    async with serving(hub_there) as base, connect(_url(base, tenant_topic(TENANT_A))) as client:
        await _expect_snapshot(client)
        await here.publish([event])

        assert (await _receive(client))["id"] == event.id


async def test_after_losing_redis_connected_clients_resync(
    redis_channel: tuple[str, str], redis_buses: tuple[RedisBus, RedisBus]
) -> None:
    publisher, listener = redis_buses
    hub = Hub(listener)
    seen = _event(TENANT_A)
    async with serving(hub) as base, connect(_url(base, tenant_topic(TENANT_A))) as client:
        await _expect_snapshot(client)
        await publisher.publish([seen])
        assert (await _receive(client))["id"] == seen.id

        assert await drop_listener_connections(*redis_channel) == 2

        assert await _receive(client) == {"type": "resync"}
    assert hub.latest_event_id is None
