"""Live-event latency: from an assignment committed to the offer arriving on the agent's WebSocket.

Creates a throw-away database (PostgreSQL owned by an ordinary role, so row-level security applies
as in production; or SQLite) with one tenant, 500 available agents, each signed in with a browser
session, and enough queued chats for the run. Serves the product with ``centralita run`` on a free
loopback port, its own router switched off and events crossing processes through Redis, and opens
one ``/ws/agent`` WebSocket per agent (each reads its snapshot first).

This process then plays the router: it offers queued chats to the agents round-robin, each offer
in its own transaction through ``routing.work.hold`` on a session attached to a ``RedisBus``, on a
steady schedule, one transaction at a time unless ``--writers`` allows more in flight. The clock
starts when ``commit()`` returns and stops when the agent's socket, in this same process, reads the
``interaction.offered`` event for that interaction; one not read within 5 s counts as lost. The
first second of offers warms connections up and is not counted. Also reported: when this process's
own bus listener hears the event back from Redis (``bus_*``: publishing and Redis, without the
server), the CPU of the server and of this process, and how late this process's event loop ran (the
error the bench itself adds, since the sockets share its loop). Prints one JSON object.

    .venv/bin/python bench/event_latency.py [--agents 500] [--rate 100] [--seconds 10]
        [--writers 1] [--database postgresql|sqlite] [--redis-url redis://127.0.0.1:6379/0]

Redis pub/sub channels are shared by every database number of a Redis server: other centralita
processes on the same server (tests) hear these events and this server hears theirs.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection

from centralita.customers.models import Customer
from centralita.db.base import new_id, utcnow
from centralita.db.engine import Database, open_database
from centralita.events.bus import Event, RedisBus, attach, wait_for_published
from centralita.events.service import Actor
from centralita.interactions.models import Channel, Direction, Interaction, InteractionState
from centralita.routing import work
from centralita.routing.models import Queue
from centralita.tenancy import service as tenancy
from centralita.tenancy.schemas import TenantCreate

# Run as a script, Python puts bench/ on the path rather than the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.serving import (
    Agent,
    add_signed_in_agents,
    cpu_seconds,
    free_port,
    open_agent_socket,
    percentile,
    print_result,
    probe_loop_lag,
    server_log,
    start_server,
    stop_server,
    throwaway_database,
    wait_healthy,
)

BENCH_ACTOR = Actor(label="bench")
QUEUE = "chat"
CHAT_CAPACITY = 3
OFFER_TIMEOUT_S = 15
WARM_UP_SECONDS = 1.0
LOST_AFTER_S = 5.0
CONNECT_CONCURRENCY = 25


@dataclass
class Seeded:
    tenant_id: uuid.UUID
    queue_id: uuid.UUID
    agents: list[Agent]
    interactions: list[uuid.UUID]


@dataclass
class Tally:
    """Times on this process's ``perf_counter`` clock, by interaction id."""

    wanted: frozenset[str]
    committed: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    # When this process's own bus listener heard the event back from Redis.
    echoed: dict[str, float] = field(default_factory=dict)
    all_received: asyncio.Event = field(default_factory=asyncio.Event)
    offer_txn_ms: list[float] = field(default_factory=list)
    # How late this process's event loop runs a 5 ms sleep: the error this bench adds.
    loop_lag_ms: list[float] = field(default_factory=list)
    misdelivered: int = 0


# --- the database ------------------------------------------------------------------------------


async def _seed(url: str, agents_count: int, interactions: int) -> Seeded:
    """One tenant, a chat queue, signed-in available agents and queued chats, in bulk.

    Every agent shares one password hash: hashing hundreds of argon2 passwords would take
    minutes and nobody signs in with a password here.
    """
    db = open_database(url, 1)
    try:
        async with db.system_session() as session:
            tenant = await tenancy.create_tenant(
                session, BENCH_ACTOR, TenantCreate(slug="bench-events", name="Bench Events")
            )
            queue = Queue(
                tenant_id=tenant.id,
                name=QUEUE,
                channels=["chat"],
                language="es",
                offer_timeout_seconds=OFFER_TIMEOUT_S,
            )
            session.add(queue)
            agents = await add_signed_in_agents(session, tenant.id, agents_count, CHAT_CAPACITY)
            now = utcnow()
            customer = Customer(
                tenant_id=tenant.id,
                id=new_id(),
                display_name="Cliente de prueba",
                search_name="cliente de prueba",
            )
            session.add(customer)
            await session.flush()
            chats = [
                Interaction(
                    tenant_id=tenant.id,
                    id=new_id(),
                    customer_id=customer.id,
                    channel=Channel.CHAT,
                    direction=Direction.INBOUND,
                    state=InteractionState.QUEUED,
                    queue=QUEUE,
                    language="es",
                    priority=5,
                    subject=f"Chat {n}",
                    queued_at=now,
                )
                for n in range(interactions)
            ]
            session.add_all(chats)
            await session.commit()
        return Seeded(tenant.id, queue.id, agents, [chat.id for chat in chats])
    finally:
        await db.dispose()


# --- the server and the agents' sockets --------------------------------------------------------


async def _listen(ws: ClientConnection, agent: Agent, tally: Tally) -> None:
    """Stamp each offer the moment it is read, before any parsing."""
    expected = str(agent.id)
    with contextlib.suppress(Exception):
        async for raw in ws:
            arrived = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") != "interaction.offered":
                continue
            data = message["data"]
            if data.get("agent_id") != expected:
                tally.misdelivered += 1
                continue
            interaction_id = data["interaction_id"]
            if interaction_id in tally.wanted and interaction_id not in tally.received:
                tally.received[interaction_id] = arrived
                if len(tally.received) == len(tally.wanted):
                    tally.all_received.set()


# --- playing the router ------------------------------------------------------------------------


async def _offer(db: Database, seeded: Seeded, interaction_id: uuid.UUID, agent: Agent) -> float:
    """One routing decision written as the router writes it; returns when the commit returned."""
    async with db.system_session() as session:
        query = select(Interaction).where(Interaction.id == interaction_id).with_for_update()
        interaction = (await session.execute(query)).scalar_one()
        now = utcnow()
        await work.hold(
            session,
            interaction,
            agent.id,
            queue_id=seeded.queue_id,
            expires_at=now + timedelta(seconds=OFFER_TIMEOUT_S),
            accepted=False,
            now=now,
        )
        await session.commit()
        return time.perf_counter()


async def _drive(
    db: Database,
    seeded: Seeded,
    work_ids: list[uuid.UUID],
    agents: Iterator[Agent],
    rate: float,
    writers: int,
    tally: Tally | None,
) -> float:
    """Offer ``work_ids`` at a steady rate, each in its own transaction, to the next agent of
    ``agents``, with at most ``writers`` transactions in flight: with one, offers are committed
    one at a time, and back to back when the schedule is ahead of the database. Returns the
    elapsed time."""
    in_flight = asyncio.Semaphore(writers)

    async def offer(interaction_id: uuid.UUID, agent: Agent) -> None:
        async with in_flight:
            before = time.perf_counter()
            committed = await _offer(db, seeded, interaction_id, agent)
        if tally is not None:
            tally.committed[str(interaction_id)] = committed
            tally.offer_txn_ms.append((committed - before) * 1000)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for n, interaction_id in enumerate(work_ids):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            group.create_task(offer(interaction_id, next(agents)))
    return time.perf_counter() - started


async def _measure(
    url: str, redis_url: str, agents: int, rate: float, seconds: float, writers: int, log: Path
) -> dict[str, object]:
    warm_up = max(1, round(rate * WARM_UP_SECONDS))
    measured = max(1, round(rate * seconds))
    if warm_up + measured > agents * CHAT_CAPACITY:
        raise SystemExit(
            f"{warm_up + measured} offers exceed the chat capacity of {agents} agents "
            f"({agents * CHAT_CAPACITY}): lower --rate or --seconds"
        )
    probe = Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        await probe.ping()
    finally:
        await probe.aclose()

    seeding_started = time.perf_counter()
    seeded = await _seed(url, agents, warm_up + measured)
    seed_s = time.perf_counter() - seeding_started
    port = free_port()
    server = start_server(url, port, log, {"CENTRALITA_REDIS_URL": redis_url})
    sockets: list[ClientConnection] = []
    listeners: list[asyncio.Task[None]] = []
    db = open_database(url, writers)
    bus = RedisBus(redis_url)
    try:
        await wait_healthy(port, server)
        connecting_started = time.perf_counter()
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
        opened = await asyncio.gather(
            *(open_agent_socket(port, agent, limit) for agent in seeded.agents),
            return_exceptions=True,
        )
        sockets = [ws for ws in opened if isinstance(ws, ClientConnection)]
        failures = [exc for exc in opened if isinstance(exc, BaseException)]
        if failures:
            raise RuntimeError(f"{len(failures)} sockets failed to open") from failures[0]
        connect_s = time.perf_counter() - connecting_started
        tally = Tally(frozenset(str(i) for i in seeded.interactions[warm_up:]))
        listeners = [
            asyncio.create_task(_listen(ws, agent, tally))
            for ws, agent in zip(sockets, seeded.agents, strict=True)
        ]
        await bus.start()
        attach(db.sessionmaker, bus)

        def echoed(event: Event) -> None:
            key = event.data.get("interaction_id")
            if event.type == "interaction.offered" and key in tally.wanted:
                tally.echoed.setdefault(key, time.perf_counter())

        bus.subscribe(echoed)

        order = list(seeded.agents)
        random.shuffle(order)
        round_robin = itertools.cycle(order)
        await _drive(db, seeded, seeded.interactions[:warm_up], round_robin, rate, writers, None)
        await asyncio.sleep(0.5)
        cpu_before = cpu_seconds(server.pid), time.process_time()
        lag_probe = asyncio.create_task(probe_loop_lag(tally.loop_lag_ms))
        try:
            elapsed = await _drive(
                db, seeded, seeded.interactions[warm_up:], round_robin, rate, writers, tally
            )
        finally:
            lag_probe.cancel()
        server_cpu = (cpu_seconds(server.pid) - cpu_before[0]) / elapsed
        bench_cpu = (time.process_time() - cpu_before[1]) / elapsed
        await wait_for_published()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.all_received.wait(), LOST_AFTER_S)
        closed_early = sum(task.done() for task in listeners)
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        await bus.close()
        await db.dispose()
        stop_server(server)

    latencies = [
        (tally.received[key] - committed) * 1000
        for key, committed in tally.committed.items()
        if key in tally.received and tally.received[key] - committed <= LOST_AFTER_S
    ]
    echo = [
        (tally.echoed[key] - committed) * 1000
        for key, committed in tally.committed.items()
        if key in tally.echoed
    ]
    if not latencies:
        raise RuntimeError("no offer reached its agent")
    return {
        "sockets": len(sockets),
        "assignments": len(tally.committed),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "lost": len(tally.committed) - len(latencies),
        "misdelivered": tally.misdelivered,
        "closed_early": closed_early,
        "rate_per_s": round(len(tally.committed) / elapsed, 1),
        "bus_p50_ms": round(statistics.median(echo), 2) if echo else None,
        "bus_p99_ms": round(percentile(echo, 0.99), 2) if echo else None,
        "server_cpu_percent": round(server_cpu * 100),
        "bench_cpu_percent": round(bench_cpu * 100),
        "offer_txn_p50_ms": round(statistics.median(tally.offer_txn_ms), 2),
        "offer_txn_p99_ms": round(percentile(tally.offer_txn_ms, 0.99), 2),
        "bench_loop_lag_p99_ms": round(percentile(tally.loop_lag_ms, 0.99), 2),
        "writers": writers,
        "seed_s": round(seed_s, 1),
        "connect_s": round(connect_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=500, help="agents, one WebSocket each")
    parser.add_argument("--rate", type=float, default=100.0, help="assignments a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration")
    parser.add_argument(
        "--writers", type=int, default=1, help="offer transactions in flight (1: one at a time)"
    )
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    with server_log() as log, throwaway_database(args.database, log.parent) as url:
        result = asyncio.run(
            _measure(url, args.redis_url, args.agents, args.rate, args.seconds, args.writers, log)
        )
    print_result(result, args.database)


if __name__ == "__main__":
    main()
