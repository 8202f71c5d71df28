"""Callbacks become routable work when due, are retried after unanswered calls, and expire."""

from datetime import timedelta
from typing import Any

from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.identity.permissions import Role
from tests.automation.world import customer, run_jobs
from tests.conftest import TenantFixture


async def schedule(tenant: TenantFixture, **fields: Any) -> dict[str, Any]:
    http = await tenant.client(Role.AGENT)
    person = await customer(tenant, "gold")
    body = {"customer_id": person["id"], "reason": "Promised a call back", "queue": "ventas"}
    response = await http.post(tenant.url("/callbacks"), json={**body, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def shown(tenant: TenantFixture, callback_id: str) -> dict[str, Any]:
    http = await tenant.client()
    body: dict[str, Any] = (await http.get(tenant.url(f"/callbacks/{callback_id}"))).json()
    return body


async def work(tenant: TenantFixture, interaction_id: str) -> dict[str, Any]:
    http = await tenant.client()
    body: dict[str, Any] = (await http.get(tenant.url(f"/interactions/{interaction_id}"))).json()
    return body


async def attempt(tenant: TenantFixture, callback_id: str, outcome: str) -> dict[str, Any]:
    http = await tenant.client(Role.AGENT)
    response = await http.post(
        tenant.url(f"/callbacks/{callback_id}/attempts"), json={"outcome": outcome}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_due_callback_is_queued_as_work_on_the_callback_channel(
    db: Database, tenant_a: TenantFixture
) -> None:
    callback = await schedule(tenant_a, priority=7)
    assert callback["status"] == "scheduled"
    await run_jobs(db)

    queued = await shown(tenant_a, callback["id"])
    assert queued["status"] == "queued"
    routed = await work(tenant_a, queued["interaction_id"])
    assert (routed["channel"], routed["state"], routed["queue"]) == ("callback", "queued", "ventas")
    assert routed["priority"] == 7
    assert routed["subject"] == "Promised a call back"
    assert routed["self_service_context"]["callback_id"] == callback["id"]


async def test_a_callback_for_later_waits_for_its_time(
    db: Database, tenant_a: TenantFixture
) -> None:
    later = utcnow() + timedelta(hours=2)
    callback = await schedule(tenant_a, due_at=later.isoformat())
    await run_jobs(db)
    assert (await shown(tenant_a, callback["id"]))["status"] == "scheduled"

    await run_jobs(db, later + timedelta(seconds=1))
    assert (await shown(tenant_a, callback["id"]))["status"] == "queued"


async def test_unanswered_calls_are_retried_then_the_callback_fails(
    db: Database, tenant_a: TenantFixture
) -> None:
    callback = await schedule(tenant_a, max_attempts=2)
    await run_jobs(db)
    first_work = (await shown(tenant_a, callback["id"]))["interaction_id"]

    retried = await attempt(tenant_a, callback["id"], "no_answer")
    assert retried["status"] == "scheduled"
    assert retried["attempts"][0]["outcome"] == "no_answer"
    assert retried["attempts"][0]["agent_id"] is None  # an API token, not a person
    again_at = utcnow() + timedelta(minutes=10, seconds=5)
    await run_jobs(db, again_at - timedelta(minutes=2))
    assert (await shown(tenant_a, callback["id"]))["status"] == "scheduled"
    await run_jobs(db, again_at)
    second = await shown(tenant_a, callback["id"])
    assert second["status"] == "queued"
    assert second["interaction_id"] != first_work

    failed = await attempt(tenant_a, callback["id"], "busy")
    assert failed["status"] == "failed"
    assert [a["outcome"] for a in failed["attempts"]] == ["no_answer", "busy"]


async def test_reached_completes_and_a_wrong_number_ends_at_once(
    db: Database, tenant_a: TenantFixture
) -> None:
    reached = await schedule(tenant_a)
    wrong = await schedule(tenant_a)
    await run_jobs(db)

    assert (await attempt(tenant_a, reached["id"], "reached"))["status"] == "completed"
    assert (await attempt(tenant_a, wrong["id"], "wrong_number"))["status"] == "failed"
    http = await tenant_a.client(Role.AGENT)
    closed = await http.post(
        tenant_a.url(f"/callbacks/{reached['id']}/attempts"), json={"outcome": "reached"}
    )
    assert closed.status_code == 409
    assert closed.headers["content-type"] == "application/problem+json"


async def test_an_unreached_callback_expires_and_leaves_the_queue(
    db: Database, tenant_a: TenantFixture
) -> None:
    callback = await schedule(tenant_a, expires_in_hours=1)
    await run_jobs(db)
    interaction_id = (await shown(tenant_a, callback["id"]))["interaction_id"]

    await run_jobs(db, utcnow() + timedelta(hours=1, minutes=1))

    assert (await shown(tenant_a, callback["id"]))["status"] == "expired"
    assert (await work(tenant_a, interaction_id))["state"] == "ended"


async def test_bad_callbacks_are_refused(tenant_a: TenantFixture, tenant_b: TenantFixture) -> None:
    http = await tenant_a.client()
    foreign = await customer(tenant_b)
    for body, field in [
        ({"customer_id": foreign["id"], "reason": "x"}, "body.customer_id"),
        ({"customer_id": foreign["id"], "reason": ""}, "reason"),
        ({"customer_id": foreign["id"], "reason": "x", "priority": 11}, "priority"),
    ]:
        response = await http.post(tenant_a.url("/callbacks"), json=body)
        assert response.status_code == 422, response.text
        assert field in response.text
    assert (await http.get(tenant_a.url("/callbacks"))).json()["items"] == []
