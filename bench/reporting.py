"""Reporting at contact-center scale on PostgreSQL: folding facts, a month's interval report,
what writing the facts costs each interaction, and the WFM figures the issue names.

Creates a throw-away database owned by an ordinary role (row-level security applies, as in
production) and has PostgreSQL generate ``--facts`` interaction facts over ``--tenants`` tenants
(``generate_series``, secondary indexes built after the load): about four facts per contact
(offered; answered or abandoned; ended; handled) spread over the last 60 days, realistic waits
and handle times. Facts older than a day are seeded folded, with their 15-minute aggregates built
by one ``GROUP BY`` under the fold's rules (the state that folding on every read leaves behind);
the last day's facts are left for the application. Then, as the application role:

- fold: ``fold_tenant`` for every tenant (the last day's facts), one transaction each;
- report: ``queue_report`` of one tenant for the last 30 days in 15-minute rows (2,880 rows, what
  a month's interval report reads), in a tenant-scoped session per run as a request does;
  p50/p95/max over ``--runs``, and the month's offered count from the raw facts beside it;
- write overhead: ``--interactions`` contacts through their life (created in a queue, offered,
  answered, wrap-up, ended; one transaction per step, as the API and the router commit them),
  alternately with the facts written and with the fact hook disabled, on one connection; the
  difference per contact in wall time, in this process's CPU time, in the PostgreSQL
  backend's CPU time (read from ``/proc``: the database must run on this machine) and in the
  statements sent (an executemany counts once: asyncpg sends its rows in one round trip);
- the staffing of 96 intervals x 50 queues and the Anonymous Bank forecast WAPE (``bench/wfm.py``).

The issue's scale is ``--facts 10000000``; the default, 2 million, loads in about a minute.
``--write-only`` seeds and measures the write overhead alone. Prints one JSON object, with the
load average after each step.

    .venv/bin/python bench/reporting.py [--facts 2000000] [--tenants 20] [--runs 30]
        [--interactions 300] [--seed 7] [--write-only]
"""

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import event, func, select, text

from centralita.customers.service import IdentityRules
from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.db.engine import Database, open_database
from centralita.events.service import Actor
from centralita.interactions import service as interactions
from centralita.interactions.models import Channel, InteractionState
from centralita.interactions.schemas import IdentityIn, InteractionCreate
from centralita.reporting.fold import DEFAULT_THRESHOLD_SECONDS, fold_tenant
from centralita.reporting.models import FactKind, InteractionFact
from centralita.reporting.schemas import Granularity
from centralita.reporting.service import queue_report, window
from centralita.tenancy.models import Tenant

# Run as a script, Python puts bench/ on the path rather than the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import wfm

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
ACTOR = Actor(label="bench")
DAYS = 60
# The last day's facts are left for the application to fold; older ones are seeded folded.
UNFOLDED_DAYS = 1
SHORT_ABANDON_SECONDS = 5  # the tenants' default (``ReportSettings``)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
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


def _superuser_dsn(name: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


# One tenant's contacts and their facts, made by PostgreSQL itself: an offered fact, then
# abandoned (8%) or answered, ended and handled. Waits are exponential (mean 25 s), talk times
# log-normal, wrap-ups uniform; offers spread evenly over the last ``DAYS`` days, in the order of
# their ids. Fact ids are the tenant's number and a counter, so ids follow time as uuid7 ids do
# and the primary key grows at its right edge.
SEED_TENANT = """
INSERT INTO reporting_facts (
    tenant_id, id, interaction_id, kind, at, anchor_at, queue, channel, agent_user_id,
    customer_id, topic, seconds, folded, created_at, updated_at)
WITH agents AS (SELECT array_agg(gen_random_uuid()) AS ids FROM generate_series(1, 40)),
contacts AS MATERIALIZED (
    SELECT n, gen_random_uuid() AS interaction, gen_random_uuid() AS customer,
        $2::timestamptz - make_interval(days => $4) * (1 - (n - random()) / $3) AS offered,
        (ARRAY['ventas', 'soporte', 'bajas', 'facturación'])[1 + floor(random() * 4)::int]
            AS queue,
        (ARRAY['voice', 'chat', 'email'])[1 + floor(random() * 3)::int] AS channel,
        (ARRAY['billing', 'delivery', 'card', 'returns', 'address', NULL])
            [1 + floor(random() * 6)::int] AS topic,
        (SELECT ids FROM agents)[1 + floor(random() * 40)::int] AS agent,
        -ln(1 - random()) * 25 AS wait,
        random() < 0.08 AS abandoned,
        exp(5.2 + 0.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS talk,
        5 + random() * 55 AS wrap
    FROM generate_series(1, $3) AS n
)
SELECT $1, (lpad(to_hex($5::int), 8, '0') || lpad(to_hex(c.n * 4 + f.step), 24, '0'))::uuid,
    c.interaction, f.kind, f.at, c.offered, c.queue, c.channel, f.agent, c.customer, c.topic,
    f.seconds, f.at < $6, f.at, f.at
FROM contacts AS c CROSS JOIN LATERAL (VALUES
    (0, 'offered', c.offered, NULL::float8, NULL::uuid),
    (1, CASE WHEN c.abandoned THEN 'abandoned' ELSE 'answered' END,
        c.offered + make_interval(secs => c.wait), c.wait,
        CASE WHEN c.abandoned THEN NULL ELSE c.agent END),
    (2, 'ended', c.offered + make_interval(secs => c.wait + c.talk), NULL, c.agent),
    (3, 'handled', c.offered + make_interval(secs => c.wait + c.talk + c.wrap),
        c.talk + c.wrap, c.agent)
) AS f(step, kind, at, seconds, agent)
WHERE f.step < 2 OR NOT c.abandoned
"""
FACTS_PER_CONTACT = 0.08 * 2 + 0.92 * 4
# The counters of the facts seeded as folded, by the rules of ``reporting.fold`` with the default
# 20 s threshold and 5 s short abandon: the state the application's fold-on-read leaves behind.
PREFOLD_QUEUES = """
INSERT INTO reporting_intervals (
    tenant_id, interval_start, queue, channel, offered, answered, answered_within, abandoned,
    short_abandoned, transferred, handled, wait_answered_seconds, handle_seconds)
SELECT tenant_id, to_timestamp(floor(extract(epoch FROM anchor_at) / 900) * 900), queue, channel,
    count(*) FILTER (WHERE kind = 'offered'),
    count(*) FILTER (WHERE kind = 'answered'),
    count(*) FILTER (WHERE kind = 'answered' AND seconds <= $1),
    count(*) FILTER (WHERE kind = 'abandoned'),
    count(*) FILTER (WHERE kind = 'abandoned' AND seconds < $2),
    count(*) FILTER (WHERE kind = 'transferred'),
    count(*) FILTER (WHERE kind = 'handled'),
    coalesce(sum(seconds) FILTER (WHERE kind = 'answered'), 0),
    coalesce(sum(seconds) FILTER (WHERE kind = 'handled'), 0)
FROM reporting_facts WHERE folded GROUP BY 1, 2, 3, 4
"""
PREFOLD_AGENTS = """
INSERT INTO reporting_agent_intervals (
    tenant_id, interval_start, agent_user_id, handled, handle_seconds, transferred)
SELECT tenant_id, to_timestamp(floor(extract(epoch FROM at) / 900) * 900), agent_user_id,
    count(*) FILTER (WHERE kind = 'handled'),
    coalesce(sum(seconds) FILTER (WHERE kind = 'handled'), 0),
    count(*) FILTER (WHERE kind = 'transferred')
FROM reporting_facts
WHERE folded AND agent_user_id IS NOT NULL AND kind IN ('handled', 'transferred')
GROUP BY 1, 2, 3
"""


async def _seed(name: str, tenants: int, facts: int, seed: int) -> tuple[list[uuid.UUID], int]:
    """Tenants and ``facts`` unfolded facts; the secondary indexes are dropped for the load and
    built again after it, as a bulk load into a live table would be done."""
    now = utcnow()
    ids = [new_id() for _ in range(tenants)]
    contacts = round(facts / tenants / FACTS_PER_CONTACT)
    conn = await asyncpg.connect(_superuser_dsn(name), timeout=5)
    try:
        await conn.execute("SELECT setseed($1)", (seed % 1000) / 1000)
        await conn.copy_records_to_table(
            "tenants",
            records=[
                (t, f"bench-{n}", f"Bench {n}", "es", "Europe/Madrid", "ES", None, True, now, now)
                for n, t in enumerate(ids)
            ],
            columns=(
                "id", "slug", "name", "default_locale", "time_zone", "country", "subdivision",
                "is_active", "created_at", "updated_at",
            ),
        )  # fmt: skip
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'reporting_facts'"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        folded_before = now - timedelta(days=UNFOLDED_DAYS)
        for number, tenant_id in enumerate(ids):
            await conn.execute(
                SEED_TENANT, tenant_id, now, contacts, DAYS, number + 1, folded_before
            )
        await conn.execute(PREFOLD_QUEUES, DEFAULT_THRESHOLD_SECONDS, SHORT_ABANDON_SECONDS)
        await conn.execute(PREFOLD_AGENTS)
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE reporting_facts")
        loaded = await conn.fetchval("SELECT count(*) FROM reporting_facts")
    finally:
        await conn.close()
    return ids, loaded


async def _fold_all(db: Database, ids: list[uuid.UUID]) -> dict[str, float]:
    started = time.perf_counter()
    folded = 0
    for tenant_id in ids:
        async with db.tenant_session(tenant_id) as session:
            folded += await fold_tenant(session, tenant_id)
            await session.commit()
    seconds = time.perf_counter() - started
    return {"facts": folded, "seconds": round(seconds, 2), "facts_per_s": round(folded / seconds)}


async def _report_times(db: Database, tenant_id: uuid.UUID, runs: int) -> dict[str, Any]:
    async with db.system_session() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    today = datetime.now(ZoneInfo(tenant.time_zone)).date()
    win = window(tenant, today - timedelta(days=29), today, Granularity.INTERVAL)
    timings, cpu, server, offered = [], [], [], 0
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        server_started = _backend_cpu_seconds(backend)
        async with db.tenant_session(tenant_id) as session:
            report = await queue_report(session, win)
            await session.commit()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        server.append((_backend_cpu_seconds(backend) - server_started) * 1000)
        offered = report.total.offered
    async with db.tenant_session(tenant_id) as session:
        from_facts = await session.scalar(
            select(func.count()).where(
                InteractionFact.kind == FactKind.OFFERED,
                InteractionFact.anchor_at >= win.start,
                InteractionFact.anchor_at < win.end,
            )
        )
    timings.sort()
    return {
        "rows": len(report.rows),
        "offered_in_month": offered,
        "offered_in_month_counted_from_facts": from_facts,
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 1),
        "max_ms": round(timings[-1], 1),
        "client_cpu_ms_p50": round(statistics.median(cpu), 1),
        "server_cpu_ms_mean": round(statistics.mean(server), 1),
        "target_p95_ms": 500,
    }


def _backend_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a PostgreSQL backend on this machine has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cost:
    """Wall time, this process's CPU time, the database backend's CPU time and the statements of
    each contact."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.client_cpu = 0.0
        self.server_cpu = 0.0
        self.statements = 0

    def summary(self) -> dict[str, float]:
        count = len(self.wall)
        return {
            "mean_wall_ms": round(statistics.mean(self.wall), 2),
            "median_wall_ms": round(statistics.median(self.wall), 2),
            "client_cpu_ms": round(self.client_cpu / count * 1000, 3),
            "server_cpu_ms": round(self.server_cpu / count * 1000, 3),
            "statements": round(self.statements / count, 2),
        }


class StatementCount:
    """Statements an engine has sent so far (BEGIN and COMMIT are not statements here)."""

    def __init__(self, db: Database) -> None:
        self.sent = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.sent += 1


async def _one_contact(
    db: Database,
    tenant: Tenant,
    rules: IdentityRules,
    backend: int,
    cost: Cost,
    statements: StatementCount,
) -> None:
    """A contact's life in five committed transactions, as the API and the router commit them."""
    sent = statements.sent
    wall, cpu, server = time.perf_counter(), time.process_time(), _backend_cpu_seconds(backend)
    async with db.tenant_session(tenant.id) as session:
        thread = await interactions.create_interaction(
            session,
            tenant,
            ACTOR,
            InteractionCreate(
                channel=Channel.CHAT,
                identity=IdentityIn(kind="email", value=f"c{secrets.token_hex(5)}@example.com"),
                queue="ventas",
                topic="billing",
            ),
            rules,
        )
        await session.commit()
        work_id = thread.interaction.id
    for state in ("offered", "active", "wrap_up", "ended"):
        async with db.tenant_session(tenant.id) as session:
            work = await interactions.get_interaction(session, work_id, for_update=True)
            interactions.change_state(work, InteractionState(state), ACTOR)
            await session.commit()
    cost.wall.append((time.perf_counter() - wall) * 1000)
    cost.client_cpu += time.process_time() - cpu
    cost.server_cpu += _backend_cpu_seconds(backend) - server
    cost.statements += statements.sent - sent


async def _write_overhead(url: str, tenant_id: uuid.UUID, count: int) -> dict[str, Any]:
    # One pooled connection, so every statement runs in the one backend whose CPU is read.
    db = open_database(url, pool_size=1)
    try:
        async with db.system_session() as session:
            tenant = await session.get(Tenant, tenant_id)
            assert tenant is not None
            backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        rules = IdentityRules.for_tenant(tenant, "bench-secret")
        statements = StatementCount(db)
        with_facts, without = Cost(), Cost()
        for _ in range(10):  # warm the pool and the plans
            await _one_contact(db, tenant, rules, backend, Cost(), statements)
        for n in range(count * 2):
            # Alternate, so the machine's changing load falls on both alike.
            if n % 2:
                with mock.patch.object(interactions, "transition_facts", return_value=[]):
                    await _one_contact(db, tenant, rules, backend, without, statements)
            else:
                await _one_contact(db, tenant, rules, backend, with_facts, statements)
    finally:
        await db.dispose()
    facts, bare = with_facts.summary(), without.summary()
    return {
        "contacts_each_way": count,
        "transactions_per_contact": 5,
        "facts_per_contact": 4,
        "with_facts": facts,
        "without_facts": bare,
        "overhead_per_contact": {
            name: round(facts[name] - bare[name], 3)
            for name in (
                "mean_wall_ms",
                "median_wall_ms",
                "client_cpu_ms",
                "server_cpu_ms",
                "statements",
            )
        },
        "target_ms": 2,
    }


def _load_average() -> list[float]:
    return [round(n, 2) for n in os.getloadavg()]


async def _bench(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    load: dict[str, list[float]] = {"start": _load_average()}
    started = time.perf_counter()
    ids, loaded = await _seed(name, args.tenants, args.facts, args.seed)
    seeded = time.perf_counter() - started
    load["after_seed"] = _load_average()
    result: dict[str, Any] = {
        "bench": "reporting",
        "database": "postgresql",
        "facts": loaded,
        "tenants": args.tenants,
        "seed_seconds": round(seeded, 1),
    }
    if not args.write_only:
        # One connection: every statement of a report runs in the backend whose CPU is read.
        db = open_database(url, pool_size=1)
        try:
            result["fold"] = await _fold_all(db, ids)
            load["after_fold"] = _load_average()
            result["month_interval_report"] = await _report_times(db, ids[0], args.runs)
            load["after_report"] = _load_average()
        finally:
            await db.dispose()
    result["fact_write"] = await _write_overhead(url, ids[1], args.interactions)
    load["after_write"] = _load_average()
    if not args.write_only:
        staffing = wfm.staffing_seconds(5)
        load["end"] = _load_average()
        result["staffing_96x50"] = staffing | {"target_seconds": 1}
        result["anonymous_bank_week"] = wfm.forecast_wape() | {"target_wape_below": 0.20}
    return result | {
        "load_average_1_5_15": load,
        "cpus": os.cpu_count(),
        "date": date.today().isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--facts", type=int, default=2_000_000, help="facts in all (10M in issue)")
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30, help="report runs timed")
    parser.add_argument("--interactions", type=int, default=300, help="contacts each way")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--write-only", action="store_true", help="measure the fact-write overhead alone"
    )
    args = parser.parse_args()
    name = f"centralita_bench_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_create_database(name))
    url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
    try:
        migrate.upgrade(url)
        result = asyncio.run(_bench(name, url, args))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
