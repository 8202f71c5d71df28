"""Retention purge and tenant export on PostgreSQL, on a synthetic tenant.

Creates a throw-away database owned by an ordinary role (so row-level security applies, as in
production) and seeds two tenants alike: customers, chat interactions with their messages, and
emails with their raw form (about ``--email-kb`` KiB each) and one attachment. Half of each is a
year old. Then, in the first tenant's scope, as the jobs run them:

- export: ``write_archive`` (every table as JSON lines, every email as .eml, one zip); archive
  MB/s and rows/s, and a check that no row of the other tenant is in it;
- purge: ``run_purge`` with a 90-day period for everything, run after run until no backlog is
  left (each run is one transaction, as the job commits it); rows changed per second.

Prints one JSON object.

    .venv/bin/python bench/lifecycle.py [--interactions 20000] [--messages-per 4] [--emails 2000]
"""

import argparse
import asyncio
import json
import os
import secrets
import tempfile
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import insert

from centralita.all_models import metadata  # noqa: F401 - every table known to the export
from centralita.channels.email.models import Direction as MailDirection
from centralita.channels.email.models import EmailAttachment, EmailRecord, EmailStatus
from centralita.customers.models import Customer
from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.db.engine import Database, open_database
from centralita.events.service import Actor
from centralita.interactions.models import AuthorKind, Channel, Direction, Interaction, Message
from centralita.lifecycle import service as retention
from centralita.lifecycle.export import write_archive
from centralita.lifecycle.models import RetentionPolicy, TenantExport
from centralita.tenancy import service as tenancy
from centralita.tenancy.models import Tenant
from centralita.tenancy.schemas import TenantCreate

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
BENCH_ACTOR = Actor(label="bench")
SEED_CHUNK = 2000
PERIOD_DAYS = 90


async def _create_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE):
            await conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        await conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    finally:
        await conn.close()


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _insert(
    db: Database, tenant_id: uuid.UUID, model: type, rows: list[dict[str, object]]
) -> None:
    for start in range(0, len(rows), SEED_CHUNK):
        async with db.tenant_session(tenant_id) as session:
            await session.execute(insert(model), rows[start : start + SEED_CHUNK])
            await session.commit()


async def _seed(db: Database, tenant: Tenant, args: argparse.Namespace) -> None:
    now, year_ago = utcnow(), utcnow() - timedelta(days=365)
    customers = [
        {"tenant_id": tenant.id, "id": new_id(), "display_name": f"Cliente {n}", "search_name": ""}
        for n in range(max(1, args.interactions // 5))
    ]
    await _insert(db, tenant.id, Customer, customers)
    works, messages = [], []
    for n in range(args.interactions):
        at = year_ago if n % 2 else now
        work = {
            "tenant_id": tenant.id,
            "id": new_id(),
            "customer_id": customers[n % len(customers)]["id"],
            "channel": Channel.CHAT,
            "direction": Direction.INBOUND,
            "state": "ended",
            "priority": 5,
            "created_at": at,
        }
        works.append(work)
        for m in range(args.messages_per):
            messages.append(
                {
                    "tenant_id": tenant.id,
                    "interaction_id": work["id"],
                    "author_kind": AuthorKind.CUSTOMER if m % 2 else AuthorKind.AGENT,
                    "text": f"Mensaje {m} sobre el pedido {n}: " + "texto " * 20,
                    "attachments": [],
                    "created_at": at,
                }
            )
    await _insert(db, tenant.id, Interaction, works)
    await _insert(db, tenant.id, Message, messages)
    emails, files = [], []
    body = ("Hola, adjunto la factura del mes. " * 32 + "\r\n") * max(1, args.email_kb)
    for n in range(args.emails):
        email_id = new_id()
        raw = f"Message-ID: <{email_id}@bench>\r\nSubject: Factura {n}\r\n\r\n{body}".encode()
        emails.append(
            {
                "tenant_id": tenant.id,
                "id": email_id,
                "direction": MailDirection.IN,
                "message_id": f"{email_id}@bench",
                "status": EmailStatus.RECEIVED,
                "counterpart": f"c{n}@example.com",
                "mailbox": "ayuda@bench.example",
                "subject": f"Factura {n}",
                "visible_text": "Hola, adjunto la factura del mes.",
                "full_text": body,
                "size": len(raw),
                "raw": raw,
                "created_at": year_ago if n % 2 else now,
            }
        )
        files.append(
            {
                "tenant_id": tenant.id,
                "email_id": email_id,
                "filename": "factura.pdf",
                "content_type": "application/pdf",
                "size": 4096,
                "content": secrets.token_bytes(4096),
            }
        )
    await _insert(db, tenant.id, EmailRecord, emails)
    await _insert(db, tenant.id, EmailAttachment, files)


async def _export(db: Database, tenant: Tenant, other: Tenant, folder: Path) -> dict[str, object]:
    path = folder / "export.zip"
    async with db.tenant_session(tenant.id) as session:
        export = TenantExport(tenant_id=tenant.id, requested_by="bench", counts={})
        started = time.perf_counter()
        counts = await write_archive(session, tenant, export, path)
        elapsed = time.perf_counter() - started
    size = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        uncompressed = sum(info.file_size for info in archive.infolist())
        leaked = any(
            str(other.id).encode() in archive.read(name)
            for name in archive.namelist()
            if name.endswith(".jsonl")
        )
    rows = sum(count for count in counts.values())
    return {
        "seconds": round(elapsed, 2),
        "archive_mb": round(size / 1e6, 2),
        "uncompressed_mb": round(uncompressed / 1e6, 2),
        "archive_mb_per_s": round(size / 1e6 / elapsed, 2),
        "uncompressed_mb_per_s": round(uncompressed / 1e6 / elapsed, 2),
        "rows": rows,
        "rows_per_s": round(rows / elapsed),
        "emails_eml": counts["emails_eml"],
        "other_tenant_rows_in_archive": leaked,
    }


async def _purge(db: Database, tenant: Tenant) -> dict[str, object]:
    async with db.tenant_session(tenant.id) as session:
        session.add(
            RetentionPolicy(
                tenant_id=tenant.id,
                conversations_days=PERIOD_DAYS,
                recordings_days=PERIOD_DAYS,
                emails_days=PERIOD_DAYS,
            )
        )
        await session.commit()
    removed: dict[str, int] = {}
    runs = 0
    started = time.perf_counter()
    while True:
        async with db.tenant_session(tenant.id) as session:
            result = await retention.run_purge(session, tenant.id, utcnow())
            await session.commit()
        runs += 1
        assert result is not None
        for name, count in result.counts.items():
            removed[name] = removed.get(name, 0) + count
        if not result.backlog:
            break
    elapsed = time.perf_counter() - started
    total = sum(removed.values())
    return {
        "seconds": round(elapsed, 2),
        "runs": runs,
        "removed": removed,
        "rows_per_s": round(total / elapsed),
    }


async def _run(url: str, args: argparse.Namespace) -> dict[str, object]:
    db = open_database(url, 2)
    try:
        tenants = []
        async with db.system_session() as session:
            for slug in ("bench-a", "bench-b"):
                data = TenantCreate(slug=slug, name=f"Bench {slug}")
                tenants.append(await tenancy.create_tenant(session, BENCH_ACTOR, data))
            await session.commit()
        started = time.perf_counter()
        for tenant in tenants:
            await _seed(db, tenant, args)
        seeded = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            exported = await _export(db, tenants[0], tenants[1], Path(folder))
        purged = await _purge(db, tenants[0])
        return {
            "benchmark": "lifecycle",
            "database": "postgresql",
            "per_tenant": {
                "interactions": args.interactions,
                "messages": args.interactions * args.messages_per,
                "emails": args.emails,
                "email_kb": args.email_kb,
            },
            "seed_seconds": round(seeded, 1),
            "export": exported,
            "purge": purged,
        }
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=20_000)
    parser.add_argument("--messages-per", type=int, default=4)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--email-kb", type=int, default=20)
    args = parser.parse_args()
    name = f"centralita_bench_lifecycle_{secrets.token_hex(3)}"
    asyncio.run(_create_database(name))
    try:
        url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
        migrate.upgrade(url)
        print(json.dumps(asyncio.run(_run(url, args)), indent=2))
    finally:
        asyncio.run(_drop_database(name))


if __name__ == "__main__":
    main()
