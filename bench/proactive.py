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

Campaign dispatch is not built yet, so it is not measured. Prints one JSON object.

    .venv/bin/python bench/proactive.py [--events 20000] [--db-events 2000] [--deliveries 2000]
"""

import argparse
import asyncio
import contextlib
import json
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import func, select

# The outbox records emitted events, and every table is known before the first flush.
import centralita.all_models  # noqa: F401
from centralita.automation.engine import RuleSet
from centralita.automation.models import AutomationSetup, Rule
from centralita.automation.schemas import RuleDefinition
from centralita.automation.service import compiled, evaluator
from centralita.config import Settings
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--db-events", type=int, default=2_000)
    parser.add_argument("--deliveries", type=int, default=2_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.sqlite3'}"
        await asyncio.to_thread(migrate.upgrade, url)
        result = {
            "rules_engine": bench_engine(args.events, rng),
            "rules_end_to_end": await bench_end_to_end(url, args.db_events, rng),
            "webhooks": await bench_webhooks(url, args.deliveries),
            "campaigns": None,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
