"""What the benches that serve the product share: a throw-away database, ``centralita run`` in a
child process, signed-in agents and their ``/ws/agent`` sockets, and the numbers they report.

The server runs in its own process so that the load generator (this process) and the product do
not share an event loop: the server's CPU time (read from ``/proc``) divided by the operations it
served is what an operation costs, whatever else the machine is doing.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect

from centralita.config import Settings
from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.identity.models import Membership, User, WebSession
from centralita.identity.permissions import Role
from centralita.identity.service import Passwords
from centralita.routing.engine import Presence
from centralita.routing.models import AgentProfile

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
SESSION_COOKIE = "centralita_session"
# A loaded machine (tests of others sharing the cores) can take long to import and migrate.
SERVER_START_TIMEOUT_S = 90.0
LAG_PROBE_S = 0.005
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Agent:
    id: uuid.UUID
    cookie: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def probe_loop_lag(lags_ms: list[float]) -> None:
    """How late this process's event loop runs a 5 ms sleep: the error the bench itself adds."""
    while True:
        asleep = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_S)
        lags_ms.append((time.perf_counter() - asleep - LAG_PROBE_S) * 1000)


# --- the database ------------------------------------------------------------------------------


async def _create_pg_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE):
            # Another bench may create the role at the same moment.
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


@contextlib.contextmanager
def throwaway_database(kind: str, directory: Path) -> Iterator[str]:
    """A migrated database for one run, dropped afterwards: on PostgreSQL owned by an ordinary
    role, so row-level security applies as in production; or an SQLite file in ``directory``."""
    name = f"centralita_bench_{os.getpid()}_{secrets.token_hex(3)}"
    if kind == "postgresql":
        asyncio.run(_create_pg_database(name))
        url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite+aiosqlite:///{directory / 'bench.sqlite3'}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        if kind == "postgresql":
            asyncio.run(_drop_pg_database(name))


async def add_signed_in_agents(
    session: AsyncSession, tenant_id: uuid.UUID, count: int, chat_capacity: int
) -> list[Agent]:
    """Available agents of the tenant, each with a browser session (what
    ``identity.open_web_session`` writes, without a flush per agent). They share one password
    hash: hashing hundreds of argon2 passwords would take minutes and nobody signs in here."""
    password_hash = Passwords(Settings(argon2_time_cost=1, argon2_memory_kib=64)).hash(
        secrets.token_hex(16)
    )
    now = utcnow()
    users = [
        User(
            id=new_id(),
            email=f"agent-{n:04d}@bench.example.com",
            display_name=f"Agente {n}",
            password_hash=password_hash,
        )
        for n in range(count)
    ]
    session.add_all(users)
    await session.flush()
    agents = []
    for user in users:
        cookie = secrets.token_urlsafe(32)
        session.add(Membership(tenant_id=tenant_id, user_id=user.id, role=Role.AGENT))
        session.add(
            AgentProfile(
                user_id=user.id,
                presence=Presence.AVAILABLE,
                languages=["es"],
                capacity_chat=chat_capacity,
            )
        )
        session.add(
            WebSession(
                token_hash=hashlib.sha256(cookie.encode()).hexdigest(),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(24),
                expires_at=now + timedelta(hours=12),
                ip="127.0.0.1",
                user_agent="bench",
            )
        )
        agents.append(Agent(user.id, cookie))
    return agents


# --- the server --------------------------------------------------------------------------------


def start_server(url: str, port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``centralita run`` on ``port``, its router and demo traffic off (the bench plays them)."""
    full_env = {
        **os.environ,
        "CENTRALITA_DATABASE_URL": url,
        "CENTRALITA_ROUTING_ENGINE": "false",
        "CENTRALITA_DEMO_TRAFFIC": "false",
        "CENTRALITA_LOG_LEVEL": "warning",
        **env,
    }
    if "CENTRALITA_REDIS_URL" not in env:
        full_env.pop("CENTRALITA_REDIS_URL", None)
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - this interpreter running centralita itself
            [sys.executable, "-m", "centralita", "run", "--port", str(port)],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def wait_healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("the server exited while starting")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become healthy")


async def open_agent_socket(port: int, agent: Agent, limit: asyncio.Semaphore) -> ClientConnection:
    """The agent's ``/ws/agent`` socket, its snapshot read."""
    async with limit:
        ws = await connect(
            f"ws://127.0.0.1:{port}/ws/agent",
            additional_headers={"Cookie": f"{SESSION_COOKIE}={agent.cookie}"},
            proxy=None,
            open_timeout=30,
        )
        first = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
        if first.get("type") != "snapshot":
            await ws.close()
            raise RuntimeError(f"expected a snapshot first, got {str(first)[:200]}")
        return ws


@contextlib.contextmanager
def server_log() -> Iterator[Path]:
    """Where the server writes; its tail is shown should the run fail."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        try:
            yield log
        except BaseException:
            if log.exists():
                print(log.read_text()[-3000:], file=sys.stderr)
            raise


def print_result(result: dict[str, object], database: str) -> None:
    print(
        json.dumps(
            {**result, "database": database, "load_avg": [round(x, 2) for x in os.getloadavg()]}
        )
    )
