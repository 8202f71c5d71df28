"""Driving the webhook pipeline step by step: fan-out jobs, then the dispatcher, at a given time."""

import uuid
from datetime import datetime
from typing import Any

from centralita.config import Settings
from centralita.db.engine import Database
from centralita.jobs.models import JobKind
from centralita.jobs.worker import BATCH_SIZE, JobWorker
from centralita.webhooks.dispatcher import WebhookDispatcher
from centralita.webhooks.service import fan_out
from tests.conftest import TenantFixture


async def fan_out_due(db: Database, at: datetime) -> None:
    worker = JobWorker(db, {JobKind.WEBHOOK_FANOUT: fan_out}, clock=lambda: at)
    while await worker.step() == BATCH_SIZE:
        pass


async def dispatch_at(db: Database, settings: Settings, at: datetime) -> int:
    dispatcher = WebhookDispatcher(db, settings, clock=lambda: at)
    try:
        return await dispatcher.step()
    finally:
        await dispatcher.aclose()


async def subscribe(tenant: TenantFixture, url: str, *types: str) -> dict[str, Any]:
    http = await tenant.client()
    response = await http.post(
        tenant.url("/webhooks"), json={"url": url, "event_types": list(types)}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_interaction(tenant: TenantFixture) -> str:
    http = await tenant.client()
    response = await http.post(
        tenant.url("/interactions"),
        json={"channel": "chat", "identity": {"kind": "chat", "value": uuid.uuid4().hex}},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def deliveries(tenant: TenantFixture, subscription_id: str) -> list[dict[str, Any]]:
    http = await tenant.client()
    response = await http.get(tenant.url(f"/webhooks/{subscription_id}/deliveries"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
