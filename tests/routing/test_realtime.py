"""/ws/agent and /ws/supervisor over real sockets: the app served by uvicorn, a real client."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from centralita.config import Settings
from centralita.identity import service as identity
from centralita.identity.models import User
from centralita.identity.permissions import Role
from tests.conftest import TEST_ACTOR, TenantFixture
from tests.events import eventually
from tests.routing.world import World, make_world, session_cookie


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    """The test app (its lifespan already run by the fixture) on a free port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    served = uvicorn.Server(config)
    running = asyncio.create_task(served.serve())
    await eventually(lambda: served.started or running.done())
    port = served.servers[0].sockets[0].getsockname()[1]
    yield f"127.0.0.1:{port}"
    served.should_exit = True
    await running


def _headers(cookie: str, origin: str | None = None) -> dict[str, str]:
    headers = {"Cookie": f"centralita_session={cookie}"}
    if origin:
        headers["Origin"] = origin
    return headers


async def _receive(client: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    """The next message (of ``kind``, skipping others) within five seconds."""
    async with asyncio.timeout(5):
        while True:
            message: dict[str, Any] = json.loads(await client.recv())
            if kind is None or message["type"] == kind:
                return message


async def _closed_with(uri: str, headers: dict[str, str]) -> int | None:
    async with connect(uri, additional_headers=headers) as client:
        with pytest.raises(ConnectionClosed) as closed:
            await _receive(client)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_an_agent_gets_a_snapshot_then_their_own_offers_only(
    world: World, server: str
) -> None:
    agent = await world.agent(level=5, capacity_chat=1)
    colleague = await world.agent(level=2, capacity_chat=1)
    await world.start_router()
    uri = f"ws://{server}/ws/agent"
    headers = _headers(await session_cookie(world, agent), origin=f"http://{server}")

    async with (
        connect(uri, additional_headers=headers) as mine,
        connect(uri, additional_headers=_headers(await session_cookie(world, colleague))) as theirs,
    ):
        snapshot = await _receive(mine)
        assert (snapshot["type"], snapshot["presence"], snapshot["work"]) == (
            "snapshot",
            "available",
            [],
        )
        await _receive(theirs, "snapshot")
        work_id = await world.arrive()
        await world.step()

        offered = await _receive(mine, "interaction.offered")
        assert offered["data"]["interaction_id"] == str(work_id)
        assert offered["tenant"] == str(world.tenant.id)
        second = await world.arrive()
        await world.step()
        for_colleague = await _receive(theirs, "interaction.offered")
        assert for_colleague["data"]["interaction_id"] == str(second)


async def test_a_socket_without_a_session_or_from_another_site_is_closed(
    world: World, server: str
) -> None:
    agent = await world.agent()
    cookie = await session_cookie(world, agent)
    uri = f"ws://{server}/ws/agent"

    assert await _closed_with(uri, {}) == 4401
    assert await _closed_with(uri, _headers(cookie, origin="https://evil.example")) == 4401


async def test_a_supervisor_sees_queue_statistics_of_their_tenant_only(
    world: World, server: str, tenant_b: TenantFixture
) -> None:
    supervisor = await world.agent()
    async with world.db.system_session() as session:
        user = await session.get(User, supervisor.id)
        assert user is not None
        await identity.grant_role(session, TEST_ACTOR, world.tenant.id, user, Role.SUPERVISOR)
        await session.commit()
    cookie = await session_cookie(world, supervisor)
    runner = await world.start_router()
    await world.arrive()

    uri = f"ws://{server}/ws/supervisor?tenant={world.tenant.slug}"
    async with connect(uri, additional_headers=_headers(cookie)) as client:
        snapshot = await _receive(client)
        assert [q["name"] for q in snapshot["queues"]] == ["soporte"]
        assert snapshot["queues"][0]["waiting"] == 1
        await world.arrive()
        await runner.publish_statistics()
        update = await _receive(client, "queue.stats_updated")
        assert update["data"]["queues"][0]["waiting"] == 2

    other = f"ws://{server}/ws/supervisor?tenant={tenant_b.slug}"
    assert await _closed_with(other, _headers(cookie)) == 4403
