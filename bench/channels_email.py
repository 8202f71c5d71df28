"""Emails ingested per second through a real SMTP conversation into PostgreSQL.

Creates a throw-away database owned by an ordinary role (row-level security applies, as in
production), one tenant with one mailbox and the built-in SMTP listener on an ephemeral port.
``--connections`` blocking ``smtplib`` clients (threads) then send ``--emails`` messages in all,
each over its client's open connection: most open a new ticket for a new customer, one in five
answers an earlier one by In-Reply-To. Every ``250`` means the message, its customer, its ticket
and its routable work are committed. Prints one JSON object: emails per second, the per-message
latency p50/p99 seen by the clients, this process's CPU time per email, and a check that every
message was stored exactly once.

    .venv/bin/python bench/channels_email.py [--emails 1000] [--connections 8]
"""

import argparse
import asyncio
import json
import os
import secrets
import smtplib
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

import asyncpg
from sqlalchemy import func, select

from centralita.channels import service as channels
from centralita.channels.email.models import EmailRecord
from centralita.channels.email.smtp import start_listener
from centralita.channels.models import AddressChannel
from centralita.channels.schemas import AddressCreate
from centralita.config import Settings
from centralita.customers.service import IdentityRules
from centralita.db import migrate
from centralita.db.engine import open_database
from centralita.events.bus import LocalBus, attach, wait_for_published
from centralita.events.service import Actor
from centralita.tenancy import service as tenancy
from centralita.tenancy.schemas import TenantCreate
from centralita.tickets.models import Ticket

ADMIN_DSN = os.environ.get(
    "CENTRALITA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "centralita_bench"
ACTOR = Actor(label="bench")
MAILBOX = "ayuda@bench.example"
BODY = (
    "Buenos días:\n\nEl cargo de la factura de noviembre aparece duplicado en mi cuenta. "
    "¿Podéis revisarlo y devolverme el importe?\n\nGracias,\n"
)


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


def _mail(client: int, number: int) -> EmailMessage:
    mail = EmailMessage()
    sender = f"cliente{client}-{number - number % 5}@example.com"
    mail["From"] = f"Cliente {client} <{sender}>"
    mail["To"] = MAILBOX
    mail["Message-ID"] = f"<bench-{client}-{number}@example.com>"
    if number % 5:
        # A follow-up by the same customer, threaded on their first message.
        mail["Subject"] = "Re: Cargo duplicado"
        mail["In-Reply-To"] = f"<bench-{client}-{number - number % 5}@example.com>"
    else:
        mail["Subject"] = "Cargo duplicado"
    mail.set_content(BODY + f"Cliente {client}")
    return mail


def _client(port: int, client: int, count: int) -> list[float]:
    latencies = []
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for number in range(count):
            data = _mail(client, number).as_bytes()
            started = time.perf_counter()
            smtp.sendmail("cliente@example.com", [MAILBOX], data)
            latencies.append(time.perf_counter() - started)
    return latencies


async def _bench(url: str, emails: int, connections: int) -> dict[str, object]:
    settings = Settings(database_url=url, database_pool_size=connections + 2)
    db = open_database(url, settings.database_pool_size)
    attach(db.sessionmaker, LocalBus())
    async with db.system_session() as session:
        tenant = await tenancy.create_tenant(
            session, ACTOR, TenantCreate(slug="bench-mail", name="Bench")
        )
        await session.commit()
    async with db.tenant_session(tenant.id) as session:
        rules = IdentityRules.for_tenant(tenant, settings.secret_key)
        data = AddressCreate(channel=AddressChannel.EMAIL, address=MAILBOX)
        await channels.create_address(session, ACTOR, tenant, data, rules)
        await session.commit()
    server = await start_listener(db, settings, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    per_client = emails // connections
    loop = asyncio.get_running_loop()
    # The clients get threads of their own: in the default executor they would crowd out the
    # listener's parsing, which runs there.
    with ThreadPoolExecutor(max_workers=connections) as clients:
        started, cpu_started = time.perf_counter(), time.process_time()
        results = await asyncio.gather(
            *(
                loop.run_in_executor(clients, _client, port, client, per_client)
                for client in range(connections)
            )
        )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    server.close()
    await server.wait_closed()
    await wait_for_published()
    async with db.tenant_session(tenant.id) as session:
        stored = (await session.execute(select(func.count()).select_from(EmailRecord))).scalar_one()
        tickets = (await session.execute(select(func.count()).select_from(Ticket))).scalar_one()
    await db.dispose()
    latencies = sorted(latency for result in results for latency in result)
    sent = len(latencies)
    return {
        "benchmark": "channels_email",
        "database": "postgresql",
        "emails": sent,
        "connections": connections,
        "seconds": round(elapsed, 3),
        "emails_per_second": round(sent / elapsed, 1),
        "target_emails_per_second": 50,
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "latency_ms_p99": round(latencies[int(0.99 * (sent - 1))] * 1000, 2),
        # This process's CPU (listener, parsing, ORM and the clients): on a loaded machine the
        # rate falls with the CPU share it gets, this much less.
        "process_cpu_ms_per_email": round(cpu / sent * 1000, 2),
        "stored_once": stored == sent,
        "tickets": tickets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1_000, help="messages sent in all")
    parser.add_argument("--connections", type=int, default=8, help="concurrent SMTP clients")
    args = parser.parse_args()
    name = f"centralita_bench_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_create_database(name))
    url = f"postgresql+asyncpg://{APP_ROLE}@127.0.0.1:5432/{name}"
    try:
        migrate.upgrade(url)
        result = asyncio.run(_bench(url, args.emails, args.connections))
    finally:
        asyncio.run(_drop_database(name))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
