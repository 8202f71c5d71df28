"""Channels: emails ingested a second through real SMTP, chat round trip, IVR webhook latency.

Creates a throw-away database (PostgreSQL owned by an ordinary role, so row-level security applies
as in production; or SQLite) with one tenant: a mailbox, a chat widget, a phone number, a queue, an
intent route and signed-in agents. Serves the product with ``centralita run`` on free loopback
ports (the HTTP port and its built-in SMTP listener; its router off, events inside the one
process), then runs three phases against it. For each, the server's CPU time (``/proc``) divided by
the operations served is reported: what one operation costs, however loaded the machine is. Each
phase starts once the server is idle, so what one phase left to the job worker is not charged to
the next.

Email: ``--connections`` blocking ``smtplib`` clients (threads) send ``--emails`` messages in
all, each over its client's open connection: most open a new ticket for a new customer, four in
five answer the first one by In-Reply-To. Every ``250`` means the message, its customer, its
ticket and its routable work are committed; afterwards the stored messages are counted.

Chat: one ``/ws/chat`` socket per visitor fills in the pre-chat form, then this process plays the
router (each chat accepted by an agent, round-robin, whose ``/ws/agent`` socket is open). Visitors
send messages on a steady schedule across the chats; the clock starts when this process sends the
frame and stops when the agent's socket reads the ``interaction.message_added`` event carrying it
(stored, committed, published, forwarded). The first second is warm-up; how late this process's
own event loop ran is reported, so a starved generator shows.

IVR: signed ``/telephony/voice/incoming`` (caller lookup, whether the queue is open, greeting) and
``/telephony/voice/steer`` (intent steering, the call stored as queued work) webhooks, a few in
flight, each timed from request to the last byte of its TwiML; then the statements one more call's
webhooks send, counted with the product served in this process. Prints one JSON object.

    .venv/bin/python bench/channels.py [--phases email,chat,ivr] [--emails 1000]
        [--connections 8] [--chats 200] [--rate 50] [--seconds 10] [--calls 300]
        [--ivr-in-flight 4] [--database postgresql|sqlite]
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import secrets
import smtplib
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect

from centralita.app import create_app
from centralita.channels.email.models import EmailRecord
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.voice.webhook import signature
from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.db.engine import open_database
from centralita.events.service import Actor
from centralita.interactions.models import Channel, Interaction
from centralita.nlu.service import set_intent_route
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

ACTOR = Actor(label="bench")
SLUG = "bench-channels"
QUEUE = "general"
MAILBOX = "ayuda@bench.example"
WIDGET = "bench-widget"
NUMBER = "+34910000999"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
CHATS_PER_AGENT = 3
WARM_UP_SECONDS = 1.0
LOST_AFTER_S = 5.0
CONNECT_CONCURRENCY = 20
PHASES = ("email", "chat", "ivr")
SETTLE_PROBE_S = 1.0
SETTLE_MAX_S = 60.0
IDLE_CPU_SHARE = 0.05
BODY = (
    "Buenos días:\n\nEl cargo de la factura de noviembre aparece duplicado en mi cuenta. "
    "¿Podéis revisarlo y devolverme el importe?\n\nGracias,\n"
)


@dataclass(frozen=True)
class Served:
    """The product running in its own process, and where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    smtp_port: int
    url: str
    tenant_id: uuid.UUID
    agents: list[Agent]

    async def settle(self) -> None:
        """Wait until the server is idle (what an earlier phase left to its job worker is done),
        so that one phase's CPU time is not charged to the next."""
        deadline = time.perf_counter() + SETTLE_MAX_S
        while time.perf_counter() < deadline:
            before = cpu_seconds(self.process.pid)
            await asyncio.sleep(SETTLE_PROBE_S)
            if (cpu_seconds(self.process.pid) - before) / SETTLE_PROBE_S < IDLE_CPU_SHARE:
                return

    async def costing(self, operations: Callable[[], Awaitable[int]]) -> tuple[int, float, float]:
        """Run ``operations`` (which returns how many it made the server serve): the count,
        the wall seconds, and the server's CPU milliseconds per operation."""
        await self.settle()
        cpu_before, started = cpu_seconds(self.process.pid), time.perf_counter()
        count = await operations()
        elapsed = time.perf_counter() - started
        cpu_ms = (cpu_seconds(self.process.pid) - cpu_before) * 1000
        return count, elapsed, cpu_ms / max(1, count)


async def _seed(url: str, agents: int) -> tuple[uuid.UUID, list[Agent]]:
    db = open_database(url, 1)
    try:
        async with db.system_session() as session:
            tenant = await tenancy.create_tenant(
                session, ACTOR, TenantCreate(slug=SLUG, name="Bench Channels")
            )
            session.add(Queue(tenant_id=tenant.id, name=QUEUE, channels=["chat", "voice", "email"]))
            session.add_all(
                [
                    ChannelAddress(
                        tenant_id=tenant.id,
                        channel=AddressChannel.EMAIL,
                        address=MAILBOX,
                        queue=QUEUE,
                        settings={},
                    ),
                    ChannelAddress(
                        tenant_id=tenant.id,
                        channel=AddressChannel.CHAT,
                        address=WIDGET,
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
            signed_in = await add_signed_in_agents(session, tenant.id, agents, CHATS_PER_AGENT)
            await session.commit()
        return tenant.id, signed_in
    finally:
        await db.dispose()


# --- email -------------------------------------------------------------------------------------


def _mail(client: int, number: int) -> EmailMessage:
    mail = EmailMessage()
    first = number - number % 5
    mail["From"] = f"Cliente {client} <cliente{client}-{first}@example.com>"
    mail["To"] = MAILBOX
    mail["Message-ID"] = f"<bench-{client}-{number}@example.com>"
    if number % 5:
        # A follow-up by the same customer, threaded on their first message.
        mail["Subject"] = "Re: Cargo duplicado"
        mail["In-Reply-To"] = f"<bench-{client}-{first}@example.com>"
    else:
        mail["Subject"] = "Cargo duplicado"
    mail.set_content(BODY + f"Cliente {client}")
    return mail


def _smtp_client(port: int, client: int, count: int) -> list[float]:
    latencies = []
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for number in range(count):
            data = _mail(client, number).as_bytes()
            started = time.perf_counter()
            smtp.sendmail("cliente@example.com", [MAILBOX], data)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def _email(served: Served, emails: int, connections: int) -> dict[str, object]:
    per_client = emails // connections
    latencies: list[float] = []

    async def send_all() -> int:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=connections) as clients:
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(clients, _smtp_client, served.smtp_port, n, per_client)
                    for n in range(connections)
                )
            )
        latencies.extend(latency for result in results for latency in result)
        return len(latencies)

    sent, elapsed, cpu_ms = await served.costing(send_all)
    db = open_database(served.url, 1)
    try:
        async with db.tenant_session(served.tenant_id) as session:
            stored = await session.scalar(select(func.count()).select_from(EmailRecord))
    finally:
        await db.dispose()
    return {
        "emails": sent,
        "email_connections": connections,
        "emails_per_second": round(sent / elapsed, 1),
        "target_emails_per_second": 50,
        "email_latency_p50_ms": round(statistics.median(latencies), 2),
        "email_latency_p99_ms": round(percentile(latencies, 0.99), 2),
        "email_server_cpu_ms": round(cpu_ms, 2),
        "emails_stored_once": stored == sent,
    }


# --- chat --------------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    counted: set[str] = field(default_factory=set)
    loop_lag_ms: list[float] = field(default_factory=list)
    done_sending: bool = False
    all_received: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self, text: str, at: float) -> None:
        self.received.setdefault(text, at)
        if self.done_sending and len(self.received) >= len(self.sent):
            self.all_received.set()


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


async def _assign_all(served: Served) -> None:
    """Play the router: every waiting chat accepted by an agent, round-robin."""
    db = open_database(served.url, 1)
    try:
        async with db.tenant_session(served.tenant_id) as session:
            query = select(Interaction).where(Interaction.channel == Channel.CHAT)
            chats = (await session.execute(query)).scalars()
            agents = itertools.cycle(agent.id for agent in served.agents)
            for chat, agent in zip(chats, agents, strict=False):
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


async def _listen(ws: ClientConnection, tally: Tally) -> None:
    with contextlib.suppress(Exception):
        async for raw in ws:
            arrived = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") == "interaction.message_added":
                tally.arrived(message["data"]["message"]["text"], arrived)


async def _drain(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def _send_on_schedule(
    visitors: list[ClientConnection], rate: float, seconds: float, tally: Tally
) -> int:
    start = time.perf_counter()
    for n in itertools.count():
        due = start + n / rate
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
    tally.done_sending = True
    if len(tally.received) < len(tally.sent):
        # Whatever has not arrived by then counts as lost.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.all_received.wait(), LOST_AFTER_S)
    return len(tally.sent)


async def _chat(served: Served, chats: int, rate: float, seconds: float) -> dict[str, object]:
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    visitors = await asyncio.gather(*(_visitor(served.port, n, limit) for n in range(chats)))
    desks = await asyncio.gather(*(open_agent_socket(served.port, a, limit) for a in served.agents))
    await _assign_all(served)
    tally = Tally()
    tasks = [asyncio.create_task(_listen(ws, tally)) for ws in desks]
    tasks += [asyncio.create_task(_drain(ws)) for ws in visitors]
    tasks.append(asyncio.create_task(probe_loop_lag(tally.loop_lag_ms)))
    bench_cpu = time.process_time()
    try:
        _, elapsed, cpu_ms = await served.costing(
            lambda: _send_on_schedule(visitors, rate, seconds, tally)
        )
    finally:
        bench_cpu = time.process_time() - bench_cpu
        for task in tasks:
            task.cancel()
        for ws in [*visitors, *desks]:
            await ws.close()
    trips = [
        (tally.received[t] - tally.sent[t]) * 1000 for t in tally.counted if t in tally.received
    ]
    return {
        "chats": chats,
        "agents": len(served.agents),
        "chat_messages": len(tally.counted),
        "chat_lost": len(tally.counted) - len(trips),
        "chat_rate_per_s": rate,
        "chat_round_trip_p50_ms": round(percentile(trips, 0.5), 2),
        "chat_round_trip_p99_ms": round(percentile(trips, 0.99), 2),
        "target_chat_round_trip_p99_ms": 100,
        "chat_server_cpu_ms": round(cpu_ms, 2),
        "chat_bench_cpu_percent": round(bench_cpu / elapsed * 100),
        "chat_bench_loop_lag_p99_ms": round(percentile(tally.loop_lag_ms, 0.99), 2),
    }


# --- IVR ---------------------------------------------------------------------------------------


# One call through the phone menu: what the caller says once greeted.
IVR_STEPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("incoming", {}),
    ("steer", {"SpeechResult": "tengo una duda con mi factura"}),
)


def _ivr_webhook(
    base: str, step: str, n: int, extra: dict[str, str]
) -> tuple[str, dict[str, str], dict[str, str]]:
    """The provider's webhook of call ``n`` at ``step``: its path, parameters and signature."""
    path = f"/telephony/voice/{step}"
    params = {"CallSid": f"CA{n:032d}", "From": f"+3461{n:07d}", "To": NUMBER, **extra}
    return path, params, {"X-Twilio-Signature": signature(AUTH_TOKEN, base + path, params.items())}


def _checked(answer: httpx.Response) -> None:
    if answer.status_code != 200:
        path = answer.request.url.path
        raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:200]}")


async def _ivr_calls(port: int, calls: int, in_flight: int, timings: dict[str, list[float]]) -> int:
    base = f"http://127.0.0.1:{port}"
    limit = asyncio.Semaphore(in_flight)

    async def one(http: httpx.AsyncClient, n: int) -> None:
        for step, extra in IVR_STEPS:
            path, params, headers = _ivr_webhook(base, step, n, extra)
            async with limit:
                began = time.perf_counter()
                answer = await http.post(path, data=params, headers=headers)
                elapsed = (time.perf_counter() - began) * 1000
            _checked(answer)
            if n >= in_flight:  # the first few warm connections up
                timings[step].append(elapsed)

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await asyncio.gather(*(one(http, n) for n in range(calls)))
    return 2 * calls


async def _ivr_statements(url: str, first_call: int) -> dict[str, object]:
    """Statements per webhook of one more call (a new caller), the product served in this
    process so that SQLAlchemy's ``before_cursor_execute`` counts them; a call before it warms
    the process's caches, as the served product's are warm."""
    settings = Settings(
        database_url=url, routing_engine=False, jobs_worker=False, demo_traffic=False
    )
    app, base = create_app(settings), "http://testserver"
    counted: dict[str, object] = {}
    seen: list[str] = []

    def count(*_: object) -> None:
        seen.append("")

    async with app.router.lifespan_context(app):
        engine = app.state.db.engine.sync_engine
        sa_event.listen(engine, "before_cursor_execute", count)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base) as http:
            for n in (first_call, first_call + 1):
                for step, extra in IVR_STEPS:
                    path, params, headers = _ivr_webhook(base, step, n, extra)
                    seen.clear()
                    _checked(await http.post(path, data=params, headers=headers))
                    counted[f"ivr_{step}_statements"] = len(seen)
        sa_event.remove(engine, "before_cursor_execute", count)
    return counted


async def _ivr(served: Served, calls: int, in_flight: int) -> dict[str, object]:
    timings: dict[str, list[float]] = {"incoming": [], "steer": []}
    hooks, _, cpu_ms = await served.costing(
        lambda: _ivr_calls(served.port, calls, in_flight, timings)
    )
    both = timings["incoming"] + timings["steer"]
    return {
        "ivr_webhooks": hooks,
        "ivr_in_flight": in_flight,
        "ivr_incoming_p99_ms": round(percentile(timings["incoming"], 0.99), 2),
        "ivr_steer_p99_ms": round(percentile(timings["steer"], 0.99), 2),
        "ivr_webhook_p50_ms": round(percentile(both, 0.5), 2),
        "ivr_webhook_p99_ms": round(percentile(both, 0.99), 2),
        "target_ivr_webhook_p99_ms": 50,
        "ivr_server_cpu_ms": round(cpu_ms, 2),
        **await _ivr_statements(served.url, calls),
    }


async def _measure(url: str, args: argparse.Namespace, log: Path) -> dict[str, object]:
    tenant_id, agents = await _seed(url, -(-args.chats // CHATS_PER_AGENT))
    port, smtp_port = free_port(), free_port()
    env = {
        "CENTRALITA_SMTP_LISTEN_PORT": str(smtp_port),
        "CENTRALITA_CHAT_MESSAGES_PER_MINUTE": "1000",
        "CENTRALITA_DATABASE_POOL_SIZE": "20",
    }
    process = start_server(url, port, log, env)
    result: dict[str, object] = {}
    try:
        await wait_healthy(port, process)
        served = Served(process, port, smtp_port, url, tenant_id, agents)
        if "email" in args.phases:
            result.update(await _email(served, args.emails, args.connections))
        if "chat" in args.phases:
            result.update(await _chat(served, args.chats, args.rate, args.seconds))
        if "ivr" in args.phases:
            result.update(await _ivr(served, args.calls, args.ivr_in_flight))
    finally:
        stop_server(process)
    return result


def _phases(raw: str) -> frozenset[str]:
    chosen = frozenset(raw.split(","))
    if not chosen or chosen - set(PHASES):
        raise argparse.ArgumentTypeError(f"choose among {', '.join(PHASES)}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", type=_phases, default=frozenset(PHASES))
    parser.add_argument("--emails", type=int, default=1_000, help="messages sent in all")
    parser.add_argument("--connections", type=int, default=8, help="concurrent SMTP clients")
    parser.add_argument("--chats", type=int, default=200, help="concurrent chats, one socket each")
    parser.add_argument("--rate", type=float, default=50.0, help="visitor messages a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured chat duration")
    parser.add_argument("--calls", type=int, default=300, help="calls through the phone menu")
    parser.add_argument("--ivr-in-flight", type=int, default=4, help="webhooks at once")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    with server_log() as log, throwaway_database(args.database, log.parent) as url:
        result = asyncio.run(_measure(url, args, log))
    print_result({"benchmark": "channels", **result}, args.database)


if __name__ == "__main__":
    main()
