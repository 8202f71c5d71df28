"""A tenant with a chat widget and a routed queue, served by uvicorn on a free port."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.config import Settings
from tests.conftest import TenantFixture
from tests.events import eventually
from tests.routing.world import World, make_world


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        database_pool_size=5,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        secret_key="test-secret",
        routing_engine=False,
        jobs_worker=False,
        chat_position_interval_seconds=0.2,
        chat_messages_per_minute=5,
        chat_max_message_chars=500,
    )


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    served = uvicorn.Server(config)
    running = asyncio.create_task(served.serve())
    await eventually(lambda: served.started or running.done())
    port = served.servers[0].sockets[0].getsockname()[1]
    yield f"127.0.0.1:{port}"
    served.should_exit = True
    await running


@dataclass
class ChatWorld:
    world: World
    server: str

    @property
    def uri(self) -> str:
        return f"ws://{self.server}/ws/chat/{self.world.tenant.slug}"

    def connect(self, token: str | None = None, last: str | None = None) -> Any:
        uri = self.uri
        if token:
            uri += f"?token={token}" + (f"&last_event_id={last}" if last else "")
        return connect(uri)


async def add_widget(tenant: TenantFixture, queue: str | None, **settings: Any) -> ChannelAddress:
    async with tenant.db.tenant_session(tenant.id) as session:
        row = ChannelAddress(
            tenant_id=tenant.id,
            channel=AddressChannel.CHAT,
            address=f"widget-{tenant.slug}",
            display_name="Soporte",
            queue=queue,
            settings=settings,
        )
        session.add(row)
        await session.commit()
    return row


@pytest.fixture
async def chat(tenant_a: TenantFixture, settings: Settings, server: str) -> ChatWorld:
    world = await make_world(tenant_a, settings)
    await add_widget(tenant_a, world.queue.name)
    return ChatWorld(world, server)


async def receive(client: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    """The next message (of ``kind``, skipping others) within five seconds."""
    async with asyncio.timeout(5):
        while True:
            message: dict[str, Any] = json.loads(await client.recv())
            if kind is None or message["type"] == kind:
                return message


async def send(client: ClientConnection, **message: Any) -> None:
    await client.send(json.dumps(message))


async def start_chat(client: ClientConnection, **form: Any) -> str:
    """Fill in the pre-chat form; returns the visitor token."""
    await receive(client, "hello")
    fields = {"name": "Lucía Pérez", "text": "Hola, tengo un problema con mi factura", **form}
    await send(client, type="start", id="first", **fields)
    started = await receive(client, "started")
    return str(started["token"])
