"""Webhook deliveries to a real receiver: signed, retried, rested, stopped, replayed."""

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select

from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.jobs.models import Job, JobKind
from centralita.webhooks.dispatcher import WebhookDispatcher
from centralita.webhooks.policy import BREAKER_THRESHOLD
from tests.conftest import TenantFixture
from tests.webhooks.helpers import (
    deliveries,
    dispatch_at,
    fan_out_due,
    new_interaction,
    subscribe,
)
from tests.webhooks.receiver import Receiver, Reply, running_receiver


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's side of Standard Webhooks, written from the specification."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (s.partition(",") for s in headers["webhook-signature"].split())
    )


async def test_an_event_reaches_the_subscriber_signed_and_no_other_tenant(
    db: Database,
    settings: Settings,
    receiver: Receiver,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    mine = await subscribe(tenant_a, receiver.url, "interaction.created")
    await subscribe(tenant_b, receiver.url + "/b", "interaction.created")
    interaction_id = await new_interaction(tenant_a)

    now = utcnow()
    await fan_out_due(db, now)
    await dispatch_at(db, settings, now)

    got = [
        r
        for r in receiver.received
        if json.loads(r.body)["data"].get("interaction_id") == interaction_id
    ]
    assert len(got) == 1
    request = got[0]
    assert request.path == "/hook"
    assert verify(mine["secret"], request.headers, request.body)
    assert not verify(mine["secret"], request.headers, request.body + b" ")
    assert abs(int(request.headers["webhook-timestamp"]) - now.timestamp()) < 2
    body = json.loads(request.body)
    assert body["type"] == "interaction.created"
    assert body["id"] == request.headers["webhook-id"]
    assert body["data"]["channel"] == "chat"
    assert not [r for r in receiver.received if r.path == "/hook/b"]
    log = await deliveries(tenant_a, mine["id"])
    assert [(d["status"], d["last_status_code"], d["attempts"]) for d in log] == [
        ("delivered", 204, 1)
    ]


async def test_a_receiver_down_for_hours_gets_every_event_once_back(
    db: Database, settings: Settings, receiver: Receiver, tenant_a: TenantFixture
) -> None:
    subscription = await subscribe(tenant_a, receiver.url, "interaction.created")
    receiver.default = Reply(503)
    ids = {await new_interaction(tenant_a) for _ in range(3)}
    now = utcnow()
    await fan_out_due(db, now)

    # Down for three hours: attempts back off, the breaker opens and rests the endpoint.
    clock = now
    while clock < now + timedelta(hours=3):
        await dispatch_at(db, settings, clock)
        clock += timedelta(minutes=5)
    attempts_while_down = len(receiver.received)
    assert attempts_while_down >= BREAKER_THRESHOLD
    # Resting, the endpoint is tried far less than every five minutes for each of 3 events.
    assert attempts_while_down < 3 * 36 / 2
    status = await tenant_a.client()
    shown = (await status.get(tenant_a.url(f"/webhooks/{subscription['id']}"))).json()
    assert shown["breaker_open_until"] is not None
    assert {d["status"] for d in await deliveries(tenant_a, subscription["id"])} == {"pending"}

    receiver.default = Reply(200)
    receiver.received.clear()
    while clock < now + timedelta(hours=5):
        await dispatch_at(db, settings, clock)
        clock += timedelta(minutes=5)

    delivered = [json.loads(r.body)["data"]["interaction_id"] for r in receiver.received]
    assert sorted(i for i in delivered if i in ids) == sorted(ids)
    log = await deliveries(tenant_a, subscription["id"])
    assert {d["status"] for d in log} == {"delivered"}
    shown = (await status.get(tenant_a.url(f"/webhooks/{subscription['id']}"))).json()
    assert shown["consecutive_failures"] == 0
    assert shown["breaker_open_until"] is None


async def test_retry_after_is_honoured(
    db: Database, settings: Settings, receiver: Receiver, tenant_a: TenantFixture
) -> None:
    subscription = await subscribe(tenant_a, receiver.url, "interaction.created")
    receiver.replies.append(Reply(429, {"retry-after": "120"}))
    await new_interaction(tenant_a)
    now = utcnow()
    await fan_out_due(db, now)
    await dispatch_at(db, settings, now)

    [delivery] = await deliveries(tenant_a, subscription["id"])
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] == 429
    waits = datetime.fromisoformat(delivery["next_attempt_at"]) - now
    assert timedelta(seconds=119) < waits <= timedelta(seconds=121)
    # Not before the receiver asked.
    await dispatch_at(db, settings, now + timedelta(seconds=119))
    assert len(receiver.received) == 1
    await dispatch_at(db, settings, now + timedelta(seconds=121))
    assert len(receiver.received) == 2
    [delivery] = await deliveries(tenant_a, subscription["id"])
    assert delivery["status"] == "delivered"


async def test_gone_stops_the_subscription(
    db: Database, settings: Settings, receiver: Receiver, tenant_a: TenantFixture
) -> None:
    subscription = await subscribe(tenant_a, receiver.url, "interaction.created")
    receiver.default = Reply(410)
    await new_interaction(tenant_a)
    now = utcnow()
    await fan_out_due(db, now)
    await dispatch_at(db, settings, now)

    [delivery] = await deliveries(tenant_a, subscription["id"])
    assert delivery["status"] == "failed"
    http = await tenant_a.client()
    shown = (await http.get(tenant_a.url(f"/webhooks/{subscription['id']}"))).json()
    assert (shown["active"], shown["disabled_reason"]) == (False, "gone")

    await new_interaction(tenant_a)
    await fan_out_due(db, utcnow())
    await dispatch_at(db, settings, utcnow())
    assert len(receiver.received) == 1
    assert len(await deliveries(tenant_a, subscription["id"])) == 1


async def test_a_redirect_to_an_internal_address_is_not_followed(
    db: Database, settings: Settings, receiver: Receiver, tenant_a: TenantFixture
) -> None:
    subscription = await subscribe(tenant_a, receiver.url, "interaction.created")
    receiver.default = Reply(307, {"location": "http://169.254.169.254/latest/meta-data/"})
    await new_interaction(tenant_a)
    now = utcnow()
    await fan_out_due(db, now)
    await dispatch_at(db, settings, now)

    [delivery] = await deliveries(tenant_a, subscription["id"])
    assert delivery["status"] == "failed"
    assert "may not reach" in delivery["last_error"]
    assert len(receiver.received) == 1


async def test_replay_sends_the_same_event_again(
    db: Database, settings: Settings, receiver: Receiver, tenant_a: TenantFixture
) -> None:
    subscription = await subscribe(tenant_a, receiver.url, "interaction.created")
    await new_interaction(tenant_a)
    now = utcnow()
    await fan_out_due(db, now)
    await dispatch_at(db, settings, now)
    [delivery] = await deliveries(tenant_a, subscription["id"])
    http = await tenant_a.client()

    replayed = await http.post(
        tenant_a.url(f"/webhooks/{subscription['id']}/deliveries/{delivery['id']}/replay")
    )
    assert replayed.status_code == 200, replayed.text
    again = await http.post(
        tenant_a.url(f"/webhooks/{subscription['id']}/deliveries/{delivery['id']}/replay")
    )
    assert again.status_code == 409
    await dispatch_at(db, settings, utcnow())

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert json.loads(first.body) == json.loads(second.body)


async def test_a_hanging_receiver_does_not_hold_up_the_others(
    app: FastAPI, db: Database, settings: Settings, receiver: Receiver, tenant_a: TenantFixture
) -> None:
    release = asyncio.Event()
    async with running_receiver() as hanging:
        hanging.default = Reply(200, hold=release)
        slow = await subscribe(tenant_a, hanging.url, "interaction.created")
        fast = await subscribe(tenant_a, receiver.url, "interaction.created")
        await new_interaction(tenant_a)
        await fan_out_due(db, utcnow())
        dispatcher = WebhookDispatcher(db, settings)
        running = asyncio.create_task(dispatcher.run())
        try:
            async with asyncio.timeout(10):
                # Polling the API: the delivery is recorded by the dispatcher's own task.
                while not await delivered(tenant_a, fast["id"]):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            [held] = await deliveries(tenant_a, slow["id"])
            assert held["status"] == "pending"
            assert len(hanging.received) == 1
        finally:
            release.set()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def delivered(tenant: TenantFixture, subscription_id: str) -> bool:
    return any(d["status"] == "delivered" for d in await deliveries(tenant, subscription_id))


async def test_deliveries_are_durable_jobs(
    db: Database, receiver: Receiver, tenant_a: TenantFixture
) -> None:
    subscription = await subscribe(tenant_a, receiver.url, "interaction.created")
    await new_interaction(tenant_a)
    await fan_out_due(db, utcnow())
    [delivery] = await deliveries(tenant_a, subscription["id"])
    async with db.system_session() as session:
        query = select(Job).where(Job.kind == JobKind.WEBHOOK_DELIVERY)
        refs = {str(job.ref_id) for job in (await session.execute(query)).scalars()}
    assert delivery["id"] in refs
