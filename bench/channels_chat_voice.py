"""Chat round trip (visitor socket -> agent socket) with 200 live chats, and IVR webhook latency.

Creates a throw-away database (PostgreSQL owned by an ordinary role, so row-level security applies
as in production; or SQLite) with one tenant, a chat widget, a phone number and signed-in agents.
Serves the product with ``centralita run`` on a free loopback port (its router off, events inside
the one process). Opens one ``/ws/chat`` socket per visitor, each filling in the pre-chat form,
then plays the router: each chat is assigned (accepted) to an agent, round-robin, whose
``/ws/agent`` socket is open.

Chat: visitors send messages on a steady schedule across the chats; the clock starts when this
process sends the frame and stops when the agent's socket reads the ``interaction.message_added``
event carrying it (stored, committed, published, forwarded). The first second is warm-up.

IVR: signed ``/telephony/voice/incoming`` (caller lookup, queue availability, greeting) and
``/telephony/voice/steer`` (intent steering, the call stored as queued work) webhooks, a few in
flight, each timed from request to the last byte of its TwiML. Prints one JSON object.

    .venv/bin/python bench/channels_chat_voice.py [--chats 200] [--rate 50] [--seconds 10]
        [--calls 300] [--ivr-in-flight 4] [--database postgresql|sqlite]
"""

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.voice.webhook import signature
from centralita.config import Settings
from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.db.engine import open_database
from centralita.events.service import Actor
from centralita.identity.models import Membership, User, WebSession
from centralita.identity.permissions import Role
from centralita.identity.service import Passwords
from centralita.interactions.models import Channel, Interaction
from centralita.nlu.service import set_intent_route
from centralita.routing import work
from centralita.routing.engine import Presence
from centralita.routing.models import AgentProfile, Queue
from centralita.tenancy import service as tenancy
from centralita.tenancy.schemas import TenantCreate

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
ACTOR = Actor(label="bench")
SLUG = "bench-chat"
QUEUE = "chat"
NUMBER = "+34910000999"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
CHATS_PER_AGENT = 3
WARM_UP_SECONDS = 1.0
LOST_AFTER_S = 5.0
CONNECT_CONCURRENCY = 20
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Tally:
    sent: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    counted: set[str] = field(default_factory=set)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def _create_pg_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE):
            with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                await conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        await conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    finally:
        await conn.close()


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _seed(url: str, agents: int) -> tuple[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """The tenant, its widget and number, and signed-in agents (one shared password hash)."""
    db = open_database(url, 1)
    try:
        async with db.system_session() as session:
            tenant = await tenancy.create_tenant(
                session, ACTOR, TenantCreate(slug=SLUG, name="Bench Chat")
            )
            session.add(Queue(tenant_id=tenant.id, name=QUEUE, channels=["chat", "voice"]))
            session.add_all(
                [
                    ChannelAddress(
                        tenant_id=tenant.id,
                        channel=AddressChannel.CHAT,
                        address="bench-widget",
                        queue=QUEUE,
                        settings={},
                    ),
                    ChannelAddress(
                        tenant_id=tenant.id,
                        channel=AddressChannel.VOICE,
                        address=NUMBER,
                        queue=QUEUE,
                        settings={"auth_token": AUTH_TOKEN},
                    ),
                ]
            )
            await set_intent_route(session, tenant.id, "billing", queue=QUEUE, keywords=["factura"])
            password_hash = Passwords(Settings(argon2_time_cost=1, argon2_memory_kib=64)).hash(
                secrets.token_hex(16)
            )
            users = [
                User(
                    id=new_id(),
                    email=f"agent-{n:04d}@bench.example.com",
                    display_name=f"Agente {n}",
                    password_hash=password_hash,
                )
                for n in range(agents)
            ]
            session.add_all(users)
            await session.flush()
            cookies = [secrets.token_urlsafe(32) for _ in users]
            for user, cookie in zip(users, cookies, strict=True):
                session.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.AGENT))
                session.add(
                    AgentProfile(
                        user_id=user.id,
                        presence=Presence.AVAILABLE,
                        languages=["es"],
                        capacity_chat=CHATS_PER_AGENT,
                    )
                )
                session.add(
                    WebSession(
                        token_hash=hashlib.sha256(cookie.encode()).hexdigest(),
                        user_id=user.id,
                        csrf_token=secrets.token_urlsafe(24),
                        expires_at=utcnow() + timedelta(hours=12),
                        ip="127.0.0.1",
                        user_agent="bench",
                    )
                )
            await session.commit()
        return tenant.id, [(u.id, c) for u, c in zip(users, cookies, strict=True)]
    finally:
        await db.dispose()


async def _assign_all(url: str, tenant_id: uuid.UUID, agents: list[uuid.UUID]) -> None:
    """Play the router: every waiting chat accepted by an agent, round-robin."""
    db = open_database(url, 1)
    try:
        async with db.tenant_session(tenant_id) as session:
            chats = (
                await session.execute(
                    select(Interaction).where(Interaction.channel == Channel.CHAT)
                )
            ).scalars()
            for chat, agent in zip(chats, itertools.cycle(agents), strict=False):
                await work.hold(
                    session,
                    chat,
                    agent,
                    queue_id=None,
                    expires_at=None,
                    accepted=True,
                    now=utcnow(),
                )
            await session.commit()
    finally:
        await db.dispose()


def _start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CENTRALITA_DATABASE_URL": url,
        "CENTRALITA_ROUTING_ENGINE": "false",
        "CENTRALITA_DEMO_TRAFFIC": "false",
        "CENTRALITA_LOG_LEVEL": "warning",
        "CENTRALITA_CHAT_MESSAGES_PER_MINUTE": "1000",
        "CENTRALITA_DATABASE_POOL_SIZE": "20",
    }
    env.pop("CENTRALITA_REDIS_URL", None)
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - this interpreter running centralita itself
            [sys.executable, "-m", "centralita", "run", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


async def _wait_healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("the server exited while starting")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become healthy")


async def _recv_type(ws: ClientConnection, kind: str) -> dict[str, object]:
    while True:
        message: dict[str, object] = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if message["type"] == kind:
            return message


async def _visitor(port: int, n: int, limit: asyncio.Semaphore) -> ClientConnection:
    async with limit:
        ws = await connect(f"ws://127.0.0.1:{port}/ws/chat/{SLUG}", proxy=None, open_timeout=30)
        await _recv_type(ws, "hello")
        await ws.send(
            json.dumps({"type": "start", "id": "first", "name": f"Visitante {n}", "text": "Hola"})
        )
        await _recv_type(ws, "snapshot")
        return ws


async def _agent_socket(port: int, cookie: str, limit: asyncio.Semaphore) -> ClientConnection:
    async with limit:
        ws = await connect(
            f"ws://127.0.0.1:{port}/ws/agent",
            additional_headers={"Cookie": f"centralita_session={cookie}"},
            proxy=None,
            open_timeout=30,
        )
        await _recv_type(ws, "snapshot")
        return ws


async def _listen(ws: ClientConnection, tally: Tally) -> None:
    with contextlib.suppress(Exception):
        async for raw in ws:
            arrived = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") == "interaction.message_added":
                tally.received.setdefault(message["data"]["message"]["text"], arrived)


async def _drain(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def _chat_round_trips(
    visitors: list[ClientConnection], rate: float, seconds: float, tally: Tally
) -> None:
    interval = 1 / rate
    start = time.perf_counter()
    for n in itertools.count():
        due = start + n * interval
        if due - start > WARM_UP_SECONDS + seconds:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        text = f"bench {n} {secrets.token_hex(4)}"
        if due - start >= WARM_UP_SECONDS:
            tally.counted.add(text)
        tally.sent[text] = time.perf_counter()
        await visitors[n % len(visitors)].send(
            json.dumps({"type": "message", "id": f"b{n}", "text": text})
        )
    # Whatever has not arrived by then counts as lost.
    await asyncio.sleep(LOST_AFTER_S)


async def _ivr(port: int, calls: int, in_flight: int) -> dict[str, list[float]]:
    base = f"http://127.0.0.1:{port}"
    timings: dict[str, list[float]] = {"incoming": [], "steer": []}
    limit = asyncio.Semaphore(in_flight)

    async def one(http: httpx.AsyncClient, n: int) -> None:
        caller = f"+3461{n:07d}"
        for step, extra in (
            ("incoming", {}),
            ("steer", {"SpeechResult": "tengo una duda con mi factura"}),
        ):
            path = f"/telephony/voice/{step}"
            params = {"CallSid": f"CA{n:032d}", "From": caller, "To": NUMBER, **extra}
            headers = {"X-Twilio-Signature": signature(AUTH_TOKEN, base + path, params.items())}
            async with limit:
                began = time.perf_counter()
                answer = await http.post(path, data=params, headers=headers)
                elapsed = (time.perf_counter() - began) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:200]}")
            if n >= in_flight:  # the first few warm connections up
                timings[step].append(elapsed)

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await asyncio.gather(*(one(http, n) for n in range(calls)))
    return timings


async def _measure(
    url: str, chats: int, rate: float, seconds: float, calls: int, in_flight: int, log: Path
) -> dict[str, object]:
    agents_needed = -(-chats // CHATS_PER_AGENT)
    tenant_id, agents = await _seed(url, agents_needed)
    port = _free_port()
    server = _start_server(url, port, log)
    try:
        await _wait_healthy(port, server)
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
        visitors = await asyncio.gather(*(_visitor(port, n, limit) for n in range(chats)))
        desks = await asyncio.gather(*(_agent_socket(port, c, limit) for _, c in agents))
        await _assign_all(url, tenant_id, [a for a, _ in agents])
        tally = Tally()
        listeners = [asyncio.create_task(_listen(ws, tally)) for ws in desks]
        drains = [asyncio.create_task(_drain(ws)) for ws in visitors]
        await _chat_round_trips(visitors, rate, seconds, tally)
        ivr = await _ivr(port, calls, in_flight)
        for task in [*listeners, *drains]:
            task.cancel()
        for ws in [*visitors, *desks]:
            await ws.close()
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=15)
    trips = [
        (tally.received[t] - tally.sent[t]) * 1000 for t in tally.counted if t in tally.received
    ]
    both = ivr["incoming"] + ivr["steer"]
    return {
        "chats": chats,
        "agents": agents_needed,
        "chat_messages": len(tally.counted),
        "chat_lost": len(tally.counted) - len(trips),
        "chat_rate_per_s": rate,
        "chat_round_trip_p50_ms": round(_percentile(trips, 0.5), 2),
        "chat_round_trip_p99_ms": round(_percentile(trips, 0.99), 2),
        "ivr_webhooks": len(both),
        "ivr_incoming_p99_ms": round(_percentile(ivr["incoming"], 0.99), 2),
        "ivr_steer_p99_ms": round(_percentile(ivr["steer"], 0.99), 2),
        "ivr_webhook_p50_ms": round(_percentile(both, 0.5), 2),
        "ivr_webhook_p99_ms": round(_percentile(both, 0.99), 2),
        "ivr_in_flight": in_flight,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=200, help="concurrent chats, one socket each")
    parser.add_argument("--rate", type=float, default=50.0, help="visitor messages a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured chat duration")
    parser.add_argument("--calls", type=int, default=300, help="calls through the phone menu")
    parser.add_argument("--ivr-in-flight", type=int, default=4, help="webhooks at once")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        name = f"centralita_bench_{os.getpid()}_{secrets.token_hex(3)}"
        if args.database == "postgresql":
            asyncio.run(_create_pg_database(name))
            url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        try:
            migrate.upgrade(url)
            result = asyncio.run(
                _measure(
                    url, args.chats, args.rate, args.seconds, args.calls, args.ivr_in_flight, log
                )
            )
        except BaseException:
            if log.exists():
                print(log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            if args.database == "postgresql":
                asyncio.run(_drop_pg_database(name))
    print(
        json.dumps(
            {
                **result,
                "database": args.database,
                "load_avg": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
