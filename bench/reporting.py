"""Reporting at contact-center scale on PostgreSQL: folding facts, a month's interval report, and
what writing the facts costs each interaction.

Creates a throw-away database owned by an ordinary role (row-level security applies, as in
production) and loads ``--facts`` interaction facts over ``--tenants`` tenants with COPY: about
four facts per contact (offered; answered or abandoned; ended; handled) over the last 60 days,
realistic waits and handle times, unfolded, exactly as the application writes them. Then, as the
application role:

- fold: ``fold_tenant`` for every tenant, one transaction each; facts folded per second;
- report: ``queue_report`` of one tenant for the last 30 days in 15-minute rows (2,880 rows, what
  a month's interval report reads), in a tenant-scoped session per run as a request does;
  p50/p95/max over ``--runs``;
- write overhead: ``--interactions`` contacts through their life (created in a queue, offered,
  answered, wrap-up, ended; one transaction per step, as the API and the router commit them),
  alternately with the facts written and with the fact hook disabled; the difference of the mean
  time per contact is the facts' cost.

The issue asks for 10 million facts; ``--facts`` defaults to 2 million, which the shared machine
loads in a few minutes. Prints one JSON object.

    .venv/bin/python bench/reporting.py [--facts 2000000] [--tenants 20] [--runs 30]
        [--interactions 300] [--seed 7]
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import asyncpg

from centralita.customers.service import IdentityRules
from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.db.engine import Database, open_database
from centralita.events.service import Actor
from centralita.interactions import service as interactions
from centralita.interactions.models import Channel, InteractionState
from centralita.interactions.schemas import IdentityIn, InteractionCreate
from centralita.reporting.fold import fold_tenant
from centralita.reporting.schemas import Granularity
from centralita.reporting.service import queue_report, window
from centralita.tenancy.models import Tenant

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
ACTOR = Actor(label="bench")
DAYS = 60
COPY_CHUNK = 50_000
QUEUES = ("ventas", "soporte", "bajas", "facturación")
CHANNELS = ("voice", "chat", "email")
TOPICS = ("billing", "delivery", "card", "returns", "address", None)
FACT_COLUMNS = (
    "tenant_id", "id", "interaction_id", "kind", "at", "anchor_at", "queue", "channel",
    "agent_user_id", "customer_id", "topic", "seconds", "folded", "created_at", "updated_at",
)  # fmt: skip


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


def _contact_facts(
    rng: random.Random, tenant_id: uuid.UUID, now: datetime, agents: list[uuid.UUID]
) -> list[tuple[Any, ...]]:
    """One contact's facts: offered, then answered (and ended, handled) or abandoned."""
    offered = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
    interaction, customer = uuid.uuid4(), uuid.uuid4()
    queue, channel, topic = rng.choice(QUEUES), rng.choice(CHANNELS), rng.choice(TOPICS)
    agent = rng.choice(agents)

    def fact(
        kind: str, at: datetime, seconds: float | None, who: uuid.UUID | None
    ) -> tuple[Any, ...]:
        return (
            tenant_id, new_id(), interaction, kind, at, offered, queue, channel, who, customer,
            topic, seconds, False, at, at,
        )  # fmt: skip

    rows = [fact("offered", offered, None, None)]
    wait = rng.expovariate(1 / 25)
    if rng.random() < 0.08:
        rows.append(fact("abandoned", offered + timedelta(seconds=wait), wait, None))
        return rows
    answered = offered + timedelta(seconds=wait)
    talk, wrap = rng.lognormvariate(5.2, 0.5), rng.uniform(5, 60)
    ended = answered + timedelta(seconds=talk)
    rows.append(fact("answered", answered, wait, agent))
    rows.append(fact("ended", ended, None, agent))
    rows.append(fact("handled", ended + timedelta(seconds=wrap), talk + wrap, agent))
    return rows


def _tenant_facts(
    rng: random.Random, tenant_id: uuid.UUID, count: int, now: datetime
) -> Iterator[list[tuple[Any, ...]]]:
    agents = [uuid.uuid4() for _ in range(40)]
    chunk: list[tuple[Any, ...]] = []
    made = 0
    while made < count:
        rows = _contact_facts(rng, tenant_id, now, agents)
        chunk.extend(rows)
        made += len(rows)
        if len(chunk) >= COPY_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _seed(name: str, tenants: int, facts: int, seed: int) -> list[uuid.UUID]:
    rng = random.Random(seed)
    now = utcnow()
    ids = [new_id() for _ in range(tenants)]
    conn = await asyncpg.connect(_superuser_dsn(name), timeout=5)
    try:
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
        for tenant_id in ids:
            for chunk in _tenant_facts(rng, tenant_id, facts // tenants, now):
                await conn.copy_records_to_table(
                    "reporting_facts", records=chunk, columns=FACT_COLUMNS
                )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return ids


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
    today = datetime.now(ZoneInfo(tenant.time_zone)).date()
    win = window(tenant, today - timedelta(days=29), today, Granularity.INTERVAL)
    timings, offered = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        async with db.tenant_session(tenant_id) as session:
            report = await queue_report(session, win)
            await session.commit()
        timings.append((time.perf_counter() - started) * 1000)
        offered = report.total.offered
    timings.sort()
    return {
        "rows": len(report.rows),
        "offered_in_month": offered,
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 1),
        "max_ms": round(timings[-1], 1),
        "target_p95_ms": 500,
    }


async def _one_contact(db: Database, tenant: Tenant, rules: IdentityRules) -> float:
    """A contact's life in five committed transactions; its wall time in milliseconds."""
    started = time.perf_counter()
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
    return (time.perf_counter() - started) * 1000


async def _write_overhead(db: Database, tenant_id: uuid.UUID, count: int) -> dict[str, Any]:
    async with db.system_session() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
    rules = IdentityRules.for_tenant(tenant, "bench-secret")
    with_facts: list[float] = []
    without: list[float] = []
    for _ in range(10):  # warm the pool and the plans
        await _one_contact(db, tenant, rules)
    for n in range(count * 2):
        # Alternate, so the machine's changing load falls on both alike.
        if n % 2:
            with mock.patch.object(interactions, "transition_facts", return_value=[]):
                without.append(await _one_contact(db, tenant, rules))
        else:
            with_facts.append(await _one_contact(db, tenant, rules))
    mean_with, mean_without = statistics.mean(with_facts), statistics.mean(without)
    return {
        "contacts_each_way": count,
        "transactions_per_contact": 5,
        "mean_ms_with_facts": round(mean_with, 2),
        "mean_ms_without_facts": round(mean_without, 2),
        "median_ms_with_facts": round(statistics.median(with_facts), 2),
        "median_ms_without_facts": round(statistics.median(without), 2),
        "overhead_ms_per_contact": round(mean_with - mean_without, 3),
        "target_ms": 2,
    }


async def _bench(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    ids = await _seed(name, args.tenants, args.facts, args.seed)
    seeded = time.perf_counter() - started
    db = open_database(url, pool_size=4)
    try:
        fold = await _fold_all(db, ids)
        report = await _report_times(db, ids[0], args.runs)
        overhead = await _write_overhead(db, ids[1], args.interactions)
    finally:
        await db.dispose()
    return {
        "bench": "reporting",
        "database": "postgresql",
        "facts": args.facts,
        "tenants": args.tenants,
        "seed_seconds": round(seeded, 1),
        "fold": fold,
        "month_interval_report": report,
        "fact_write": overhead,
        "note": "shared 2-core machine under other engineers' load; figures are indicative",
        "date": date.today().isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--facts", type=int, default=2_000_000, help="facts in all (10M in issue)")
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30, help="report runs timed")
    parser.add_argument("--interactions", type=int, default=300, help="contacts each way")
    parser.add_argument("--seed", type=int, default=7)
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
