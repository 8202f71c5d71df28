"""A tenant's customers and work, and the job worker that runs rules and callbacks."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from centralita.automation.schedule import fire_scheduled_rule
from centralita.automation.service import evaluator
from centralita.callbacks.service import JOB_HANDLERS as CALLBACK_HANDLERS
from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.interactions.models import Interaction
from centralita.jobs.models import JobKind
from centralita.jobs.worker import JobHandler, JobWorker
from centralita.webhooks.service import fan_out
from tests.conftest import TenantFixture

MAX_ROUNDS = 50
# Signs survey links with the key the ``settings`` fixture gives the application.
SETTINGS = Settings(secret_key="test-secret")


def handlers(settings: Settings) -> dict[str, JobHandler]:
    return {
        JobKind.AUTOMATION_EVENT: evaluator(settings),
        JobKind.AUTOMATION_SCHEDULE: fire_scheduled_rule,
        JobKind.WEBHOOK_FANOUT: fan_out,
        **CALLBACK_HANDLERS,
    }


async def run_jobs(db: Database, at: datetime | None = None) -> None:
    """Run due rule, fan-out and callback jobs until none is left, including the ones they add."""
    worker = JobWorker(db, handlers(SETTINGS), clock=lambda: at or utcnow())
    for _ in range(MAX_ROUNDS):
        if not await worker.step():
            return
    raise AssertionError("jobs keep coming: a loop")


async def customer(tenant: TenantFixture, tier: str = "standard", **fields: Any) -> dict[str, Any]:
    http = await tenant.client()
    phone = f"+3491{uuid.uuid4().int % 10_000_000:07d}"
    body = {
        "display_name": "Ana Núñez",
        "value_tier": tier,
        "identities": [{"kind": "phone", "value": phone}],
        **fields,
    }
    response = await http.post(tenant.url("/customers"), json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def call(tenant: TenantFixture, customer_id: str, queue: str = "ventas") -> str:
    http = await tenant.client()
    response = await http.post(
        tenant.url("/interactions"),
        json={"channel": "voice", "customer_id": customer_id, "queue": queue},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def abandon_after(tenant: TenantFixture, interaction_id: str, waited: timedelta) -> None:
    """The caller hangs up after waiting ``waited`` in the queue."""
    async with tenant.db.tenant_session(tenant.id) as session:
        await session.execute(
            update(Interaction)
            .where(Interaction.id == uuid.UUID(interaction_id))
            .values(queued_at=utcnow() - waited)
        )
        await session.commit()
    http = await tenant.client()
    response = await http.patch(
        tenant.url(f"/interactions/{interaction_id}"), json={"state": "abandoned"}
    )
    assert response.status_code == 200, response.text


async def callbacks_of(tenant: TenantFixture, customer_id: str) -> list[dict[str, Any]]:
    http = await tenant.client()
    response = await http.get(tenant.url("/callbacks"), params={"customer_id": customer_id})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def rule_named(tenant: TenantFixture, name_part: str) -> dict[str, Any]:
    http = await tenant.client()
    rules = (await http.get(tenant.url("/rules"))).json()
    [rule] = [r for r in rules if name_part in r["name"]]
    found: dict[str, Any] = rule
    return found
