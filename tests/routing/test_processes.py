"""Real ``centralita run`` processes on PostgreSQL: killed mid-traffic, restarted, replaced.

The test process plays customers (arrivals) and agents (accepting and finishing what they are
offered) through the services, while the routing happens in the server processes.
"""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import func, select, text

from centralita.config import Settings
from centralita.db.scoping import use_tenant_scope
from centralita.errors import DomainError
from centralita.events.service import Actor
from centralita.interactions.models import Interaction, InteractionState
from centralita.routing import work
from centralita.routing.models import Assignment, Outcome
from tests.conftest import TenantFixture
from tests.routing.world import World, make_world, session_cookie

REDIS_URL = os.environ.get("CENTRALITA_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
TAKEOVER_LIMIT_SECONDS = 10.0
State = InteractionState


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One ``centralita run`` process."""

    def __init__(self, settings: Settings, log: Path, *, redis: bool) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "CENTRALITA_DATABASE_URL": settings.database_url,
            "CENTRALITA_SECRET_KEY": settings.secret_key,
            "CENTRALITA_LOG_LEVEL": "warning",
        }
        if redis:
            env["CENTRALITA_REDIS_URL"] = REDIS_URL
        self.log = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "centralita", "run", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        async with httpx.AsyncClient() as http:
            # A loaded machine (CI beside other jobs) can take many seconds to import the app.
            for _ in range(600):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return
                assert self.process.poll() is None, "the server exited"
                await asyncio.sleep(0.1)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
async def world(
    backend: str, tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings
) -> World:
    if backend != "postgresql":
        pytest.skip("several routing processes need PostgreSQL (SQLite serves one process)")
    return await make_world(tenant_a, settings)


@pytest.fixture
async def servers(world: World) -> AsyncIterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


async def _start(
    world: World, servers: list[Server], artifacts_dir: Path, *, redis: bool = False
) -> Server:
    server = Server(world.settings, artifacts_dir / "routing-processes.log", redis=redis)
    servers.append(server)
    await server.ready()
    return server


async def _play_agents(world: World, agents: dict[uuid.UUID, Actor]) -> None:
    """Each test agent accepts what is offered to them and finishes what they hold."""
    async with world.db.system_session() as session:
        query = select(Assignment).where(
            Assignment.released_at.is_(None), Assignment.agent_user_id.in_(list(agents))
        )
        held = list((await session.execute(query)).scalars())
    for assignment in held:
        async with world.db.tenant_session(world.tenant.id) as session:
            await use_tenant_scope(session, world.tenant.id)
            actor = agents[assignment.agent_user_id]
            with contextlib.suppress(DomainError):
                if assignment.outcome == Outcome.PENDING:
                    await work.accept(session, actor, assignment.interaction_id)
                else:
                    await work.complete(session, actor, assignment.interaction_id, "done", None)
                await session.commit()


async def _count(world: World, *states: State) -> int:
    async with world.db.tenant_session(world.tenant.id) as session:
        query = select(func.count()).select_from(Interaction).where(Interaction.state.in_(states))
        return int((await session.execute(query)).scalar_one())


async def test_killing_the_router_mid_traffic_loses_nothing_and_assigns_nothing_twice(
    world: World, servers: list[Server], artifacts_dir: Path
) -> None:
    users = [await world.agent(capacity_chat=2) for _ in range(3)]
    agents = {user.id: Actor(label=user.email, user_id=user.id) for user in users}
    first = await _start(world, servers, artifacts_dir)
    created: list[uuid.UUID] = []

    for tick in range(60):
        if tick % 2 == 0:
            created.append(await world.arrive())
        await _play_agents(world, agents)
        if tick == 25:
            first.kill()
            await _start(world, servers, artifacts_dir)
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 60
    while await _count(world, State.ENDED) < len(created) and time.monotonic() < deadline:
        await _play_agents(world, agents)
        await asyncio.sleep(0.2)

    assert await _count(world, State.ENDED) == len(created) == 30
    async with world.db.tenant_session(world.tenant.id) as session:
        taken = await session.execute(
            select(Assignment.interaction_id, func.count())
            .where(Assignment.outcome.in_([Outcome.ACCEPTED, Outcome.COMPLETED]))
            .group_by(Assignment.interaction_id)
        )
        assert sorted(n for _, n in taken.all()) == [1] * len(created)
    for user in users:
        profile = await world.profile(user)
        assert (profile.load_chat, profile.load_voice) == (0, 0)


async def _leader_pid(world: World) -> int | None:
    async with world.db.engine.connect() as connection:
        name = await connection.scalar(
            text(
                "SELECT a.application_name FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted"
            )
        )
    return int(name.rsplit("-", 1)[1]) if name else None


async def _next_event(socket: websockets.ClientConnection, kind: str, within: float) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + within
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if message["type"] == kind:
            return message  # type: ignore[no-any-return]


async def test_when_the_router_dies_another_process_takes_over_and_events_cross_processes(
    world: World, servers: list[Server], artifacts_dir: Path
) -> None:
    user = await world.agent(capacity_chat=3)
    cookie = await session_cookie(world, user)
    pair = [await _start(world, servers, artifacts_dir, redis=True) for _ in range(2)]
    deadline = time.monotonic() + TAKEOVER_LIMIT_SECONDS
    while (leader_pid := await _leader_pid(world)) is None:
        assert time.monotonic() < deadline, "no process took the routing lock"
        await asyncio.sleep(0.2)
    leader = next(s for s in pair if s.process.pid == leader_pid)
    follower = next(s for s in pair if s is not leader)

    uri = f"ws://127.0.0.1:{follower.port}/ws/agent"
    async with websockets.connect(
        uri, additional_headers={"Cookie": f"centralita_session={cookie}"}
    ) as ws:
        snapshot = json.loads(await ws.recv())
        assert snapshot["type"] == "snapshot"
        first = await world.arrive()
        offered = await _next_event(ws, "interaction.offered", within=TAKEOVER_LIMIT_SECONDS)
        assert offered["data"]["interaction_id"] == str(first)

        leader.kill()
        killed_at = time.monotonic()
        second = await world.arrive()
        offered = await _next_event(ws, "interaction.offered", within=TAKEOVER_LIMIT_SECONDS + 5)
        takeover = time.monotonic() - killed_at

    assert offered["data"]["interaction_id"] == str(second)
    assert takeover < TAKEOVER_LIMIT_SECONDS
    assert await _leader_pid(world) == follower.process.pid
    assert (await world.profile(user)).load_chat == 2
