"""Interaction ingest through the real HTTP API on PostgreSQL, against plain asyncpg inserts.

Creates a throw-away database owned by an ordinary role (so row-level security applies, as in
production), serves the API with ``centralita run`` on a free loopback port, and drives
``POST .../interactions`` for a fixed time: half the requests come from a new phone number, half
from a known one, each with its own ``Idempotency-Key`` as a provider's webhook would send. Then
it inserts equivalent rows with asyncpg directly, for the cost of the API on top of the database.
Prints one JSON object, with the server's CPU time per request (its processes' CPU from
``/proc``, which hardly depends on what else the machine runs), the generator's own CPU share and
the load average, so that a figure taken on a busy machine can be read for what it is.

Each interaction leaves durable jobs for its consumers (routing, webhook fan-out, rules). With
``--jobs in-api`` (the default) the API processes run them, as a single-node install does; with
``--jobs worker`` the API processes only serve requests and one separate job-worker process (API
and workers scale apart in production) runs them beside. Either way the bench waits for the
backlog left when the load stops to drain, and reports how long that took, how many jobs the run
created and how many are left, and the CPU of every process of the product until drained.

    .venv/bin/python bench/api_ingest.py [--seconds 20] [--concurrency 32] [--jobs worker]
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

from centralita.customers.service import fold
from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.db.engine import open_database
from centralita.events.service import Actor
from centralita.identity import service as identity
from centralita.identity.permissions import Role
from centralita.tenancy import service as tenancy
from centralita.tenancy.schemas import TenantCreate

# Run as a script, Python puts bench/ on the path rather than the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.serving import SERVER_START_TIMEOUT_S, cpu_seconds, stop_server

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
BENCH_ACTOR = Actor(label="bench")
KNOWN_PHONES = 256
WARM_UP_SECONDS = 2.0
REQUEST_TIMEOUT_S = 10.0
# What creating an interaction leaves for the consumers (the routing engine, webhooks, rules).
CONSUMER_JOBS = ["routing.work", "webhooks.fanout", "automation.event"]
DRAIN_POLL_S = 0.2
DRAIN_TIMEOUT_S = 300.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None


def _phones(start: int) -> Iterator[str]:
    """Distinct valid Spanish mobile numbers, half written locally and half internationally."""
    for n in itertools.count(start):
        national = f"6{n:08d}"
        yield f"{national[:3]} {national[3:6]} {national[6:]}" if n % 2 else f"+34{national}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _create_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE):
            await conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        await conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    finally:
        await conn.close()


async def _tenant_and_token(url: str, slug: str) -> tuple[uuid.UUID, str]:
    db = open_database(url, 1)
    try:
        async with db.system_session() as session:
            tenant = await tenancy.create_tenant(
                session, BENCH_ACTOR, TenantCreate(slug=slug, name="Bench Bank")
            )
            issued = await identity.issue_api_token(
                session, BENCH_ACTOR, tenant.id, name="ingest", role=Role.AGENT
            )
            await session.commit()
        return tenant.id, issued.secret
    finally:
        await db.dispose()


def _start_server(
    url: str, port: int, workers: int, log: Path, runs_jobs: bool
) -> subprocess.Popen[bytes]:
    """``centralita run``; ``runs_jobs`` says whether its processes route and run durable jobs."""
    env = {
        **os.environ,
        "CENTRALITA_DATABASE_URL": url,
        # Access logging at this rate would measure the terminal, not the service.
        "CENTRALITA_LOG_LEVEL": "warning",
        "CENTRALITA_JOBS_WORKER": str(runs_jobs).lower(),
        "CENTRALITA_ROUTING_ENGINE": str(runs_jobs).lower(),
    }
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - this interpreter running centralita itself
            [
                sys.executable,
                "-m",
                "centralita",
                "run",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


async def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("the server exited while starting")
            try:
                async with http.get("/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def _body(phone: str, n: int) -> dict[str, object]:
    return {
        "channel": "voice",
        "identity": {"kind": "phone", "value": phone},
        "queue": "tarjetas",
        "subject": f"Llamada {n}",
        "self_service_context": {"intent": "card_limit_increase", "verified": n % 3 == 0},
    }


async def _drive(
    http: aiohttp.ClientSession,
    path: str,
    deadline: float,
    concurrency: int,
    known: list[str],
    new_phones: Iterator[str],
) -> Tally:
    tally = Tally()
    counter = itertools.count()

    async def worker() -> None:
        while time.monotonic() < deadline:
            n = next(counter)
            phone = next(new_phones) if n % 2 else random.choice(known)
            started = time.perf_counter()
            try:
                async with http.post(
                    path, json=_body(phone, n), headers={"Idempotency-Key": secrets.token_hex(16)}
                ) as response:
                    ok = response.status == 201
                    problem = None if ok else f"{response.status}: {(await response.text())[:300]}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                ok, problem = False, f"{type(exc).__name__}: {exc}"
            elapsed_ms = (time.perf_counter() - started) * 1000
            if ok:
                tally.latencies_ms.append(elapsed_ms)
            else:
                tally.errors += 1
                tally.first_error = tally.first_error or problem

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants (uvicorn's worker processes), from /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(_tree_cpu_seconds(int(child)) for child in children)


@dataclass
class Backlog:
    """The consumers' jobs when the load stopped, and how long they took to be done."""

    at_end: int
    drain_s: float
    left: int
    created: int


class JobCounter:
    """Reads the jobs table as the database owner (past row-level security, like an operator)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def pending(self) -> int:
        query = "SELECT count(*) FROM jobs WHERE kind = ANY($1::text[])"
        count: int = await self.conn.fetchval(query, CONSUMER_JOBS)
        return count

    async def ids_issued(self) -> int:
        """Jobs ever created: their ids come from one sequence (a rolled-back insert spends one
        too, so with no failed request this is exact)."""
        query = "SELECT last_value + (CASE WHEN is_called THEN 0 ELSE -1 END) FROM jobs_id_seq"
        issued: int = await self.conn.fetchval(query)
        return issued

    async def drain(self, issued_before: int) -> Backlog:
        at_end = await self.pending()
        started = time.monotonic()
        left = at_end
        while left and time.monotonic() - started < DRAIN_TIMEOUT_S:
            await asyncio.sleep(DRAIN_POLL_S)
            left = await self.pending()
        drain_s = time.monotonic() - started
        return Backlog(at_end, drain_s, left, await self.ids_issued() - issued_before)


@dataclass
class Measured:
    tally: Tally
    elapsed_s: float
    server_cpu_s: float
    bench_cpu_s: float
    backlog: Backlog
    # Every process of the product (API and job worker) from the start of the measured period
    # until the backlog drained: what the requests cost in all.
    product_cpu_s: float
    worker_cpu_s: float


async def _measure_api(
    url: str, seconds: float, concurrency: int, workers: int, jobs: str, log: Path
) -> Measured:
    slug = "bench-api"
    _tenant_id, token = await _tenant_and_token(url, slug)
    port = _free_port()
    server = _start_server(url, port, workers, log, runs_jobs=jobs == "in-api")
    job_worker, worker_port = None, _free_port()
    if jobs == "worker":
        # One process that serves no traffic: it routes and runs the durable jobs.
        job_worker = _start_server(url, worker_port, 1, log, runs_jobs=True)
    processes = [p for p in (server, job_worker) if p is not None]
    owner = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1])
    try:
        # aiohttp rather than httpx: it spends less CPU per request, and on two shared cores
        # the generator's CPU is taken from the server it measures.
        async with aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            connector=aiohttp.TCPConnector(limit=concurrency),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        ) as http:
            await _wait_ready(port, server)
            if job_worker is not None:
                await _wait_ready(worker_port, job_worker)
            path = f"/api/v1/tenants/{slug}/interactions"
            phones = _phones(0)
            known = [next(phones) for _ in range(KNOWN_PHONES)]
            # The warm-up makes the known customers through the API and fills connection pools.
            warm_up = await _drive(
                http, path, time.monotonic() + WARM_UP_SECONDS, concurrency, known, iter(known * 2)
            )
            if warm_up.errors:
                raise RuntimeError(f"warm-up failed: {warm_up.first_error}")
            counter = JobCounter(owner)
            await counter.drain(0)
            issued = await counter.ids_issued()
            server_cpu, bench_cpu = _tree_cpu_seconds(server.pid), time.process_time()
            product_cpu = sum(_tree_cpu_seconds(p.pid) for p in processes)
            worker_cpu = _tree_cpu_seconds(job_worker.pid) if job_worker else 0.0
            started = time.monotonic()
            tally = await _drive(http, path, started + seconds, concurrency, known, phones)
            elapsed = time.monotonic() - started
            server_cpu = _tree_cpu_seconds(server.pid) - server_cpu
            bench_cpu = time.process_time() - bench_cpu
            backlog = await counter.drain(issued)
            return Measured(
                tally,
                elapsed,
                server_cpu,
                bench_cpu,
                backlog,
                sum(_tree_cpu_seconds(p.pid) for p in processes) - product_cpu,
                _tree_cpu_seconds(job_worker.pid) - worker_cpu if job_worker else 0.0,
            )
    finally:
        await owner.close()
        for process in processes:
            stop_server(process)


INSERT_CUSTOMER = """
INSERT INTO customers (tenant_id, id, display_name, value_tier, lifetime_value, consent_email,
    consent_sms, consent_marketing, attributes, tags, search_name, created_at, updated_at)
VALUES ($1, $2, $3, 'standard', 0, false, false, false, '{}', '[]', $4, $5, $5)
"""
INSERT_IDENTITY = """
INSERT INTO customer_identities (tenant_id, id, customer_id, kind, value, created_at, updated_at)
VALUES ($1, $2, $3, 'phone', $4, $5, $5)
"""
INSERT_INTERACTION = """
INSERT INTO interactions (tenant_id, id, customer_id, channel, direction, state, queue,
    priority, subject, self_service_context, queued_at, created_at, updated_at)
VALUES ($1, $2, $3, 'voice', 'inbound', 'queued', 'tarjetas', 5, $4, $5, $6, $6, $6)
"""


async def _measure_raw_inserts(url: str, seconds: float, concurrency: int) -> float:
    """Units of work per second: a new customer with its phone and an interaction, or an
    interaction for a known customer, each unit in its own transaction as a request is."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    tenant_id, _token = await _tenant_and_token(url, "bench-raw")
    known: list[uuid.UUID] = []
    counter = itertools.count()
    done = 0
    deadline = time.monotonic() + seconds

    async def unit(conn: asyncpg.Connection) -> None:
        n = next(counter)
        now = utcnow()
        created = n % 2 == 1 or not known
        customer_id = new_id() if created else random.choice(known)
        context = json.dumps({"intent": "card_limit_increase", "verified": n % 3 == 0})
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('centralita.tenant_id', $1, true)", str(tenant_id)
            )
            if created:
                phone = f"+3461{n:07d}"
                await conn.execute(INSERT_CUSTOMER, tenant_id, customer_id, phone, fold(phone), now)
                await conn.execute(INSERT_IDENTITY, tenant_id, new_id(), customer_id, phone, now)
            await conn.execute(
                INSERT_INTERACTION, tenant_id, new_id(), customer_id, f"Llamada {n}", context, now
            )
        if created:
            # Only once committed may other transactions refer to it.
            known.append(customer_id)

    async def worker() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            while time.monotonic() < deadline:
                await unit(conn)
                done += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await pool.close()
    return done / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--workers", type=int, default=2, help="API server processes (one a core)")
    parser.add_argument(
        "--jobs",
        choices=["in-api", "worker"],
        default="in-api",
        help="who runs the durable jobs: the API processes, or one separate job-worker process",
    )
    args = parser.parse_args()

    name = f"centralita_bench_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_create_database(name))
    url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        try:
            migrate.upgrade(url)
            measured = asyncio.run(
                _measure_api(url, args.seconds, args.concurrency, args.workers, args.jobs, log)
            )
            raw_per_s = asyncio.run(
                _measure_raw_inserts(url, max(5.0, args.seconds / 4), args.concurrency)
            )
        finally:
            asyncio.run(_drop_database(name))
        tally = measured.tally
        if tally.errors:
            print(f"first error: {tally.first_error}", file=sys.stderr)
            print(log.read_text()[-3000:], file=sys.stderr)
        lines = log.read_text().splitlines()
        failures = [n for n, line in enumerate(lines) if "failed (attempt" in line]
        if failures:
            # A failed job is retried later; its first reason tells whether that is expected.
            print("\n".join(lines[failures[0] : failures[0] + 40]), file=sys.stderr)
        failed_jobs = len(failures)
    latencies = tally.latencies_ms
    served = max(1, len(latencies) + tally.errors)
    result = {
        "requests_per_s": round(len(latencies) / measured.elapsed_s, 1),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99), 2) if latencies else None,
        "errors": tally.errors,
        "raw_insert_per_s": round(raw_per_s, 1),
        "workers": args.workers,
        # CPU time hardly depends on what else the machine runs; requests per second does.
        "server_cpu_ms_per_request": round(measured.server_cpu_s * 1000 / served, 2),
        "jobs": args.jobs,
        "job_worker_cpu_ms_per_request": round(measured.worker_cpu_s * 1000 / served, 2),
        # API and job worker, until the jobs the requests left were done: the whole cost.
        "product_cpu_ms_per_request_drained": round(measured.product_cpu_s * 1000 / served, 2),
        "jobs_backlog_at_end": measured.backlog.at_end,
        "jobs_drain_s": round(measured.backlog.drain_s, 2),
        "jobs_created": measured.backlog.created,
        "jobs_left": measured.backlog.left,
        "jobs_failed": failed_jobs,
        "bench_cpu_percent": round(measured.bench_cpu_s / measured.elapsed_s * 100),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
