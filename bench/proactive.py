"""Proactive service at scale: rule evaluations and signed webhook deliveries.

- rules, engine: 200 active rules per tenant on one trigger (the worst case: every rule is tried
  on every event), conditions on the event, the customer and the agent as tenants write them, over
  a stream of varied events; rule evaluations per second (events × rules tried) and events/s;
- rules, end to end: the real ``automation.event`` job handler through the real ``JobWorker`` on a
  database (SQLite in a temporary file unless ``--database-url``), 200 rules of the tenant on the
  event's trigger, events recorded by the outbox as the application records them;
- webhooks: ``--deliveries`` events fanned out to one subscription whose receiver is a real HTTP
  server on 127.0.0.1 (in this process, so it shares the CPU), sent by the real dispatcher with
  its default concurrency; deliveries per second, and a check that each was received once.

- campaigns: ``--campaign-contacts`` customers (consented, with a phone) targeted by one SMS
  campaign on a scratch PostgreSQL database (made through ``--pg-admin-dsn``, dropped after),
  dispatched by ``--campaign-workers`` real worker processes (this script with
  ``--campaign-worker``) to a provider stand-in on 127.0.0.1 (Twilio's Messages API, honouring
  ``Idempotency-Key`` as providers that support it do). When 30% have gone, one worker is killed
  with SIGKILL mid-batch and a fresh one started; the contacts it held are claimed again once their
  lease lapses and sent under the same keys. Sends per second (first to last message at the
  provider), the repeats the provider recognised, and duplicates delivered (numbers that got more
  than one message: must be 0).

Prints one JSON object.

    .venv/bin/python bench/proactive.py [--events 20000] [--db-events 2000] [--deliveries 2000]
        [--campaign-contacts 100000] [--campaign-workers 2] [--pg-admin-dsn DSN]
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import uvicorn
from sqlalchemy import func, insert, select

# The outbox records emitted events, and every table is known before the first flush.
import centralita.all_models  # noqa: F401
from centralita.automation.engine import RuleSet
from centralita.automation.models import AutomationSetup, Rule
from centralita.automation.schemas import RuleDefinition
from centralita.automation.service import compiled, evaluator
from centralita.campaigns import service as campaigns
from centralita.campaigns.consent import UnsubscribeLinks
from centralita.campaigns.models import CampaignContact, ContactStatus
from centralita.campaigns.schemas import CampaignCreate, Segment
from centralita.channels.campaigns import CampaignDispatcher, pooled_provider
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.config import Settings
from centralita.customers.models import Customer, CustomerIdentity, IdentityKind
from centralita.db import migrate
from centralita.db.base import new_id, utcnow
from centralita.db.engine import open_database
from centralita.events.bus import Event, LocalBus, attach, emit
from centralita.events.models import EventRecord
from centralita.events.service import Actor
from centralita.jobs.models import JobKind
from centralita.jobs.worker import JobWorker
from centralita.tenancy import service as tenancy
from centralita.tenancy.schemas import TenantCreate
from centralita.webhooks.dispatcher import WebhookDispatcher
from centralita.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from centralita.webhooks.service import add_delivery
from centralita.webhooks.signing import new_secret

RULES_PER_TENANT = 200
TRIGGER = "interaction.created"
QUEUES = [f"cola-{n:02d}" for n in range(20)]
TIERS = ["standard", "silver", "gold", "platinum"]
CHANNELS = ["voice", "chat", "email", "sms"]


class Receiver:
    """A webhook receiver that answers 204 and keeps each delivery's webhook-id."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.url = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        headers = dict(scope["headers"])
        self.ids.append(headers[b"webhook-id"].decode())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to await
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/hook"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task


def rule_definitions(rng: random.Random) -> list[RuleDefinition]:
    """Rules a tenant could plausibly have: three to five conditions each (a queue of twenty, a
    channel, value tiers, priority, tags), about one firing per event."""
    rules = []
    for index in range(RULES_PER_TENANT):
        conditions: list[dict[str, Any]] = [
            {"field": "event.queue", "op": "eq", "value": rng.choice(QUEUES)},
            {"field": "event.channel", "op": "eq", "value": rng.choice(CHANNELS)},
            {"field": "customer.value_tier", "op": "in", "value": rng.sample(TIERS, 2)},
        ]
        if index % 3 == 0:
            conditions.append({"field": "event.priority", "op": "ge", "value": rng.randint(3, 9)})
        if index % 5 == 0:
            conditions.append({"field": "customer.tags", "op": "contains", "value": "moroso"})
        rules.append(
            RuleDefinition.model_validate(
                {
                    "name": f"rule {index}",
                    "trigger": TRIGGER,
                    "conditions": conditions,
                    "actions": [{"type": "set_priority", "priority": 7}],
                    "position": index,
                }
            )
        )
    return rules


def context(rng: random.Random) -> dict[str, Any]:
    return {
        "event": {
            "type": TRIGGER,
            "queue": rng.choice(QUEUES),
            "channel": rng.choice(CHANNELS),
            "priority": rng.randint(0, 9),
        },
        "customer": {
            "value_tier": rng.choice(TIERS),
            "tags": rng.choice([[], ["moroso"], ["vip", "nuevo"]]),
        },
        "agent": {"id": None},
    }


def bench_engine(events: int, rng: random.Random) -> dict[str, Any]:
    tenant = uuid.uuid4()
    rows = [
        Rule(tenant_id=tenant, id=new_id(), **d.model_dump(mode="json"))
        for d in rule_definitions(rng)
    ]
    ruleset = RuleSet(compiled(rule) for rule in rows)
    stream = [context(rng) for _ in range(events)]
    fired = 0
    started = time.perf_counter()
    for item in stream:
        fired += len(ruleset.matching(TRIGGER, item))
    elapsed = time.perf_counter() - started
    return {
        "rules_per_tenant": RULES_PER_TENANT,
        "events": events,
        "rule_evaluations_per_s": round(events * RULES_PER_TENANT / elapsed),
        "events_per_s": round(events / elapsed),
        "rules_fired_per_event": round(fired / events, 2),
    }


async def bench_end_to_end(url: str, events: int, rng: random.Random) -> dict[str, Any]:
    db = open_database(url)
    attach(db.sessionmaker, LocalBus())
    settings = Settings(database_url=url)
    async with db.system_session() as session:
        tenant = await tenancy.create_tenant(
            session, Actor("bench"), TenantCreate(slug=f"b-{uuid.uuid4().hex[:8]}", name="Bench")
        )
        session.add(AutomationSetup(tenant_id=tenant.id, defaults_seeded_at=utcnow()))
        for definition in rule_definitions(rng):
            session.add(
                Rule(tenant_id=tenant.id, id=new_id(), **definition.model_dump(mode="json"))
            )
        await session.commit()
    # Events as the application emits them: the outbox records each with its rule job.
    async with db.system_session() as session:
        for _ in range(events):
            data = context(rng)["event"]
            emit(session, Event(type=TRIGGER, tenant=tenant.id, data=data, recipients=()))
        await session.commit()
    worker = JobWorker(db, {JobKind.AUTOMATION_EVENT: evaluator(settings, rng)})
    started = time.perf_counter()
    done = 0
    while done < events:
        done += await worker.step()
    elapsed = time.perf_counter() - started
    await db.dispose()
    return {
        "database": url.split("+")[0],
        "events": events,
        "rule_evaluations_per_s": round(events * RULES_PER_TENANT / elapsed),
        "events_per_s": round(events / elapsed),
    }


async def bench_webhooks(url: str, deliveries: int) -> dict[str, Any]:
    db = open_database(url)
    settings = Settings(database_url=url, webhooks_allow_loopback=True)
    async with running_receiver() as receiver:
        async with db.system_session() as session:
            tenant = await tenancy.create_tenant(
                session, Actor("bench"), TenantCreate(slug=f"w-{uuid.uuid4().hex[:8]}", name="W")
            )
            subscription = WebhookSubscription(
                tenant_id=tenant.id,
                id=new_id(),
                url=receiver.url,
                event_types=[TRIGGER],
                secret=new_secret(),
                active=True,
            )
            session.add(subscription)
            await session.flush()
            now = utcnow()
            for index in range(deliveries):
                record = EventRecord(
                    tenant_id=tenant.id,
                    id=new_id(),
                    type=TRIGGER,
                    data={"n": index, "queue": "ventas"},
                    at=now,
                )
                session.add(record)
                add_delivery(session, subscription, record, now)
            await session.commit()
        dispatcher = WebhookDispatcher(db, settings)
        started = time.perf_counter()
        sent = 0
        while sent < deliveries:
            sent += await dispatcher.step()
        elapsed = time.perf_counter() - started
        await dispatcher.aclose()
        ids = receiver.ids
    async with db.system_session() as session:
        delivered = await session.scalar(
            select(func.count()).where(WebhookDelivery.status == DeliveryStatus.DELIVERED)
        )
    await db.dispose()
    return {
        "database": url.split("+")[0],
        "deliveries": deliveries,
        "deliveries_per_s": round(deliveries / elapsed),
        "received": len(ids),
        "duplicates": len(ids) - len(set(ids)),
        "delivered_rows": delivered,
        "concurrency": settings.webhook_concurrency,
    }


class ProviderStandIn:
    """Twilio's Messages API: the first request with a key creates the message; a repeat of the
    key (a retry after a crash) gets the same sid and creates nothing."""

    def __init__(self) -> None:
        self.requests = 0
        self.messages: dict[str, str] = {}
        self.first_at: float | None = None
        self.last_at = 0.0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            part = await receive()
            body += part.get("body", b"")
            if not part.get("more_body"):
                break
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key", b"").decode() or uuid.uuid4().hex
        self.requests += 1
        form = parse_qs(body.decode())
        if "To" not in form:  # a sender killed mid-request: nothing arrived
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if key not in self.messages:
            self.messages[key] = form["To"][0]
            now = time.perf_counter()
            self.first_at = self.first_at or now
            self.last_at = now
        sid = f"SM{hash(key) & 0xFFFFFFFF:032x}"
        answer = json.dumps({"sid": sid}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})


@contextlib.asynccontextmanager
async def running_app(app: Any) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", backlog=4096
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to await
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


ACCOUNT = {"account_sid": "ACbench", "auth_token": "bench-token"}
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CHUNK = 5000


async def _campaign_world(url: str, contacts: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant with an SMS number, ``contacts`` consented customers, one running campaign."""
    db = open_database(url)
    async with db.system_session() as session:
        tenant = await tenancy.create_tenant(
            session, Actor("bench"), TenantCreate(slug=f"c-{uuid.uuid4().hex[:8]}", name="C")
        )
        session.add(
            ChannelAddress(
                tenant_id=tenant.id,
                channel=AddressChannel.SMS,
                address=f"+3491{secrets.randbelow(10**7):07d}",
                display_name="Bench",
                settings=ACCOUNT,
            )
        )
        for start in range(0, contacts, CHUNK):
            people = [
                {
                    "tenant_id": tenant.id,
                    "id": new_id(),
                    "display_name": f"Cliente {n}",
                    "search_name": f"cliente {n}",
                    "consent_sms": True,
                    "language": "es",
                }
                for n in range(start, min(start + CHUNK, contacts))
            ]
            await session.execute(insert(Customer), people)
            phones = [
                {
                    "tenant_id": tenant.id,
                    "id": new_id(),
                    "customer_id": person["id"],
                    "kind": IdentityKind.PHONE,
                    "value": f"+3460{start + n:07d}",
                }
                for n, person in enumerate(people)
            ]
            await session.execute(insert(CustomerIdentity), phones)
        await session.commit()
    async with db.tenant_session(tenant.id) as session:
        campaign = await campaigns.create_campaign(
            session,
            Actor("bench"),
            tenant.id,
            CampaignCreate(
                name="Bench",
                segment=Segment(),
                templates={"sms": {"es": "Hola {name}, su tarjeta nueva está lista."}},
                allowed_hours=ALWAYS,
            ),
        )
        await campaigns.start_campaign(session, Actor("bench"), campaign.id)
        await session.commit()
    # Statistics after the bulk load, as autovacuum would gather them on a live database.
    async with db.engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
    await db.dispose()
    return tenant.id, campaign.id


async def campaign_worker(url: str, provider_url: str, lease_s: float) -> None:
    """One dispatcher process, as the application runs it, until it is stopped or killed."""
    db = open_database(url, pool_size=4)
    async with pooled_provider(provider_url, 64) as messages:
        dispatcher = CampaignDispatcher(
            db,
            messages,
            None,
            UnsubscribeLinks("bench", "http://bench"),
            batch_size=500,
            concurrency=64,
            lease=timedelta(seconds=lease_s),
            idle_seconds=0.2,
        )
        await dispatcher.run()


async def _spawn(url: str, provider_url: str, lease_s: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--campaign-worker",
        "--database-url",
        url,
        "--provider-url",
        provider_url,
        "--lease-seconds",
        str(lease_s),
    )


async def _count_sent(url: str, campaign_id: uuid.UUID) -> dict[str, int]:
    db = open_database(url, pool_size=1)
    async with db.system_session() as session:
        rows = await session.execute(
            select(CampaignContact.status, func.count())
            .where(CampaignContact.campaign_id == campaign_id)
            .group_by(CampaignContact.status)
        )
        counts = {str(status): int(n) for status, n in rows.all()}
    await db.dispose()
    return counts


async def bench_campaigns(admin_dsn: str, contacts: int, workers: int) -> dict[str, Any]:
    lease_s = 5.0
    name = f"bench_campaigns_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_dsn)
    url = f"postgresql+asyncpg://{parts.netloc}/{name}"
    standin = ProviderStandIn()
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        setup_started = time.perf_counter()
        _, campaign_id = await _campaign_world(url, contacts)
        setup_s = time.perf_counter() - setup_started
        async with running_app(standin) as provider_url:
            processes = [await _spawn(url, provider_url, lease_s) for _ in range(workers)]
            started = time.perf_counter()
            killed_at = None
            deadline = started + max(600.0, contacts / 50)
            while len(standin.messages) < contacts and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
                if killed_at is None and len(standin.messages) >= contacts * 0.3:
                    killed_at = len(standin.messages)
                    processes[0].send_signal(signal.SIGKILL)
                    await processes[0].wait()
                    processes.append(await _spawn(url, provider_url, lease_s))
            # The last batch's outcomes are recorded just after its messages went.
            counts = await _count_sent(url, campaign_id)
            while counts.get(ContactStatus.SENT, 0) < contacts and time.perf_counter() < deadline:
                await asyncio.sleep(0.2)
                counts = await _count_sent(url, campaign_id)
            for process in processes:
                if process.returncode is None:
                    process.terminate()
                    await process.wait()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    to_numbers = Counter(standin.messages.values())
    first, last = standin.first_at or 0.0, standin.last_at
    return {
        "database": "postgresql",
        "contacts": contacts,
        "workers": workers,
        "setup_s": round(setup_s, 1),
        "elapsed_s": round(last - started, 1),
        "sends_per_s": round(len(standin.messages) / (last - first)) if last > first else None,
        "sent_rows": counts.get(ContactStatus.SENT, 0),
        "statuses": counts,
        "provider_requests": standin.requests,
        "repeats_recognised_by_key": standin.requests - len(standin.messages),
        "messages_at_provider": len(standin.messages),
        "duplicates_delivered": sum(n - 1 for n in to_numbers.values() if n > 1),
        "worker_killed_after_messages": killed_at,
        "lease_s": lease_s,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--db-events", type=int, default=2_000)
    parser.add_argument("--deliveries", type=int, default=2_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--campaign-contacts", type=int, default=100_000)
    parser.add_argument("--campaign-workers", type=int, default=2)
    parser.add_argument("--pg-admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--campaign-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--provider-url", help=argparse.SUPPRESS)
    parser.add_argument("--lease-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.campaign_worker:
        await campaign_worker(args.database_url, args.provider_url, args.lease_seconds)
        return
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.sqlite3'}"
        await asyncio.to_thread(migrate.upgrade, url)
        result = {
            "rules_engine": bench_engine(args.events, rng),
            "rules_end_to_end": await bench_end_to_end(url, args.db_events, rng),
            "webhooks": await bench_webhooks(url, args.deliveries),
            "campaigns": await bench_campaigns(
                args.pg_admin_dsn, args.campaign_contacts, args.campaign_workers
            ),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
