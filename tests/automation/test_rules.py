"""Rules on real events: defaults, validation, firing, the log, loops, dry-run, API events."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from centralita.automation.defaults import DEFAULT_RULES
from centralita.automation.service import ensure_default_rules
from centralita.db.engine import Database
from centralita.events.bus import Event, supervisors_topic, wait_for_published
from centralita.outbound.models import OutboundMessage
from tests.automation.world import (
    abandon_after,
    call,
    callbacks_of,
    customer,
    rule_named,
    run_jobs,
)
from tests.conftest import TenantFixture

TAG_ON_UPDATE = {
    "name": "Tag updated customers",
    "trigger": "customer.updated",
    "conditions": [{"field": "customer.segment", "op": "eq", "value": "retail"}],
    "actions": [{"type": "tag_customer", "tag": "touched"}],
}


async def test_every_tenant_starts_with_the_default_rules(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    rules = (await http.get(tenant_a.url("/rules"))).json()

    by_key = {r["default_key"]: r for r in rules}
    assert set(by_key) == {
        "survey_after_contact",
        "rescue_low_survey",
        "abandoned_valued_callback",
        "abandoned_sms",
    }
    assert by_key["rescue_low_survey"]["trigger"] == "survey.answered"
    assert by_key["abandoned_sms"]["active"] is False
    # Seeded once: looking again does not add them twice.
    assert len((await http.get(tenant_a.url("/rules"))).json()) == 4


async def test_two_processes_seeding_the_defaults_at_once_leave_one_set(
    tenant_a: TenantFixture, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("several processes seeding at once need PostgreSQL (SQLite serves one)")
    first = tenant_a.db.tenant_session(tenant_a.id)
    second = tenant_a.db.tenant_session(tenant_a.id)
    async with first, second:
        assert await ensure_default_rules(first, tenant_a.id) == 1
        # The second looks before the first commits, so it seeds too and waits on the key.
        racing = asyncio.create_task(ensure_default_rules(second, tenant_a.id))
        await asyncio.sleep(0.2)
        await first.commit()
        version = await racing
        await second.commit()

    rules = (await (await tenant_a.client()).get(tenant_a.url("/rules"))).json()
    assert version == 1
    assert len(rules) == len(DEFAULT_RULES)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trigger": "pizza.ordered"}, "trigger"),
        ({"conditions": [{"field": "event.x", "op": "like", "value": 1}]}, "op"),
        ({"conditions": [{"field": "password", "op": "eq", "value": 1}]}, "field"),
        ({"conditions": [{"field": "event.x", "op": "in", "value": 3}]}, "conditions"),
        ({"actions": []}, "actions"),
        ({"actions": [{"type": "launch_rocket"}]}, "actions"),
        ({"actions": [{"type": "set_priority", "priority": 12}]}, "priority"),
        ({"actions": [{"type": "send_message", "text": {"fr": "Bonjour"}}]}, "fr"),
    ],
)
async def test_a_rule_that_does_not_validate_is_refused(
    change: dict[str, Any], field: str, tenant_a: TenantFixture
) -> None:
    http = await tenant_a.client()
    before = (await http.get(tenant_a.url("/rules"))).json()

    response = await http.post(tenant_a.url("/rules"), json={**TAG_ON_UPDATE, **change})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text
    assert (await http.get(tenant_a.url("/rules"))).json() == before


async def test_a_rule_may_not_call_another_tenants_webhook(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    other = await (await tenant_b.client()).post(
        tenant_b.url("/webhooks"),
        json={"url": "http://8.8.8.8/x", "event_types": ["ticket.created"]},
    )
    http = await tenant_a.client()
    response = await http.post(
        tenant_a.url("/rules"),
        json={
            **TAG_ON_UPDATE,
            "actions": [{"type": "call_webhook", "subscription_id": other.json()["id"]}],
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.actions.0.subscription_id"


async def test_an_abandoned_call_of_a_valued_customer_gets_a_callback(
    db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    gold = await customer(tenant_a, "gold")
    work = await call(tenant_a, gold["id"], queue="ventas")
    await abandon_after(tenant_a, work, timedelta(seconds=40))
    await run_jobs(db)

    [callback] = await callbacks_of(tenant_a, gold["id"])
    assert callback["queue"] == "ventas"
    assert callback["source"] == "rule"
    assert callback["origin_interaction_id"] == work
    assert callback["reason"] == "Abandoned call"
    rule = await rule_named(tenant_a, "call back valued")
    assert callback["rule_id"] == rule["id"]
    http = await tenant_a.client()
    [run] = (await http.get(tenant_a.url(f"/rules/{rule['id']}/runs"))).json()["items"]
    assert run["succeeded"] is True
    assert run["results"] == [{"type": "create_callback", "callback_id": callback["id"]}]


async def test_short_abandons_and_ordinary_customers_get_no_callback(
    db: Database, tenant_a: TenantFixture
) -> None:
    gold = await customer(tenant_a, "gold")
    await abandon_after(tenant_a, await call(tenant_a, gold["id"]), timedelta(seconds=3))
    ordinary = await customer(tenant_a, "standard", consent_sms=True)
    await abandon_after(tenant_a, await call(tenant_a, ordinary["id"]), timedelta(minutes=2))
    await run_jobs(db)

    assert await callbacks_of(tenant_a, gold["id"]) == []
    assert await callbacks_of(tenant_a, ordinary["id"]) == []


async def test_the_tenant_chooses_an_sms_follow_up_for_the_others(
    db: Database, tenant_a: TenantFixture
) -> None:
    http = await tenant_a.client()
    sms_rule = await rule_named(tenant_a, "SMS")
    await http.patch(tenant_a.url(f"/rules/{sms_rule['id']}"), json={"active": True})
    ordinary = await customer(tenant_a, "standard", consent_sms=True, language="en")
    silent = await customer(tenant_a, "standard", consent_sms=False)
    gold = await customer(tenant_a, "gold", consent_sms=True)
    for who in (ordinary, silent, gold):
        await abandon_after(tenant_a, await call(tenant_a, who["id"]), timedelta(minutes=1))
    await run_jobs(db)

    async with db.tenant_session(tenant_a.id) as session:
        sent = list((await session.execute(select(OutboundMessage))).scalars())
    assert [(m.customer_id.hex, m.channel, m.language) for m in sent] == [
        (ordinary["id"].replace("-", ""), "sms", "en")
    ]
    assert sent[0].to_address == ordinary["identities"][0]["value"]
    assert sent[0].body.startswith("Sorry we could not take your call")
    # The valued customer got the callback, and the stop kept the SMS rule from running too.
    assert len(await callbacks_of(tenant_a, gold["id"])) == 1
    runs = (await http.get(tenant_a.url(f"/rules/{sms_rule['id']}/runs"))).json()["items"]
    skipped = [r for r in runs if r["results"][0].get("skipped")]
    assert len(runs) == 2
    assert len(skipped) == 1


async def test_a_rule_does_not_fire_on_its_own_actions(
    db: Database, tenant_a: TenantFixture
) -> None:
    http = await tenant_a.client()
    rule = (await http.post(tenant_a.url("/rules"), json=TAG_ON_UPDATE)).json()
    person = await customer(tenant_a, segment="retail")
    await http.patch(tenant_a.url(f"/customers/{person['id']}"), json={"preferred_name": "Ana"})
    await run_jobs(db)

    runs = (await http.get(tenant_a.url(f"/rules/{rule['id']}/runs"))).json()["items"]
    assert len(runs) == 1
    shown = (await http.get(tenant_a.url(f"/customers/{person['id']}"))).json()
    assert shown["tags"] == ["touched"]


async def test_dry_run_shows_what_a_rule_would_do_and_changes_nothing(
    db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    gold = await customer(tenant_a, "gold")
    await call(tenant_a, gold["id"])
    await call(tenant_a, (await customer(tenant_a))["id"])
    await call(tenant_b, (await customer(tenant_b, "gold"))["id"])
    await run_jobs(db)
    rule = {
        "name": "Gold callers",
        "trigger": "interaction.created",
        "conditions": [{"field": "customer.value_tier", "op": "eq", "value": "gold"}],
        "actions": [{"type": "set_priority", "priority": 9}],
    }
    http = await tenant_a.client()

    response = await http.post(tenant_a.url("/rules/dry-run"), json=rule)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["events_examined"] == 2
    [match] = body["matches"]
    assert match["actions"] == [{"type": "set_priority", "priority": 9}]
    listed = (await http.get(tenant_a.url("/interactions"))).json()["items"]
    assert {i["priority"] for i in listed} == {5}


async def test_an_api_event_notifies_the_supervisors(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    published: list[Event] = []
    app.state.bus.subscribe(published.append)
    http = await tenant_a.client()
    await http.post(
        tenant_a.url("/rules"),
        json={
            "name": "Device alerts",
            "trigger": "api_event.received",
            "conditions": [
                {"field": "event.name", "op": "eq", "value": "device.alert"},
                {"field": "event.severity", "op": "ge", "value": 3},
            ],
            "actions": [{"type": "notify_team", "message": "Router down at a customer"}],
        },
    )
    for severity in (1, 4):
        response = await http.post(
            tenant_a.url("/api-events"),
            json={"name": "device.alert", "data": {"severity": severity}},
        )
        assert response.status_code == 202
    await run_jobs(db)
    await wait_for_published()
    app.state.bus.unsubscribe(published.append)

    notified = [e for e in published if e.type == "team.notified" and e.tenant == tenant_a.id]
    assert len(notified) == 1
    assert notified[0].recipients == (supervisors_topic(tenant_a.id),)
    assert notified[0].data["message"] == "Router down at a customer"


async def test_rules_open_and_change_tickets(db: Database, tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    opener = await http.post(
        tenant_a.url("/rules"),
        json={
            "name": "Open a ticket for device alerts",
            "trigger": "api_event.received",
            "conditions": [{"field": "event.name", "op": "eq", "value": "device.alert"}],
            "actions": [
                {
                    "type": "create_ticket",
                    "subject": "Router down",
                    "priority": "P2",
                    "tags": ["device"],
                }
            ],
        },
    )
    assert opener.status_code == 201, opener.text
    tagger = await http.post(
        tenant_a.url("/rules"),
        json={
            "name": "Tag device tickets",
            "trigger": "ticket.created",
            "actions": [{"type": "update_ticket", "add_tags": ["triaged"], "priority": "P1"}],
        },
    )
    assert tagger.status_code == 201, tagger.text
    person = await customer(tenant_a)
    await http.post(
        tenant_a.url("/api-events"),
        json={"name": "device.alert", "customer_id": person["id"], "data": {"severity": 4}},
    )
    await run_jobs(db)

    [ticket] = (
        await http.get(tenant_a.url("/tickets"), params={"requester_id": person["id"]})
    ).json()["items"]
    assert ticket["subject"] == "Router down"
    assert ticket["tags"] == ["device", "triaged"]
    assert ticket["priority"] == "P1"
    runs = (await http.get(tenant_a.url(f"/rules/{tagger.json()['id']}/runs"))).json()["items"]
    assert [r["results"][0]["ticket_id"] for r in runs] == [ticket["id"]]


async def test_a_rule_whose_action_fails_is_logged_and_changes_nothing(
    db: Database, tenant_a: TenantFixture
) -> None:
    http = await tenant_a.client()
    rule = await http.post(
        tenant_a.url("/rules"),
        json={
            "name": "Ticket for a team that is gone",
            "trigger": "api_event.received",
            "actions": [
                {"type": "tag_customer", "tag": "alerted"},
                {"type": "create_ticket", "subject": "X", "team_id": str(uuid.uuid4())},
            ],
        },
    )
    person = await customer(tenant_a)
    await http.post(
        tenant_a.url("/api-events"), json={"name": "device.alert", "customer_id": person["id"]}
    )
    await run_jobs(db)

    [run] = (await http.get(tenant_a.url(f"/rules/{rule.json()['id']}/runs"))).json()["items"]
    assert run["succeeded"] is False
    assert run["error"]
    # The first action's tag was undone with the rest.
    assert (await http.get(tenant_a.url(f"/customers/{person['id']}"))).json()["tags"] == []


async def test_a_scheduled_rule_runs_every_so_often_and_once_per_due_time(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    published: list[Event] = []
    app.state.bus.subscribe(published.append)
    http = await tenant_a.client()
    created = await http.post(
        tenant_a.url("/rules"),
        json={
            "name": "Hourly check",
            "trigger": "schedule.fired",
            "every_minutes": 60,
            "actions": [{"type": "notify_team", "message": "Hourly check"}],
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    start = datetime.fromisoformat(rule["next_run_at"]) - timedelta(hours=1)

    def notices() -> int:
        return len([e for e in published if e.type == "team.notified" and e.tenant == tenant_a.id])

    await run_jobs(db, start + timedelta(minutes=59))
    await wait_for_published()
    assert notices() == 0
    await run_jobs(db, start + timedelta(minutes=61))
    await run_jobs(db, start + timedelta(minutes=62))
    await wait_for_published()
    assert notices() == 1
    await run_jobs(db, start + timedelta(minutes=122))
    await wait_for_published()
    assert notices() == 2

    # Switched off, it stops; its pending timer finds nothing to do.
    await http.patch(tenant_a.url(f"/rules/{rule['id']}"), json={"active": False})
    await run_jobs(db, start + timedelta(hours=5))
    await wait_for_published()
    app.state.bus.unsubscribe(published.append)
    assert notices() == 2


@pytest.mark.parametrize(
    "body",
    [
        {"trigger": "schedule.fired"},
        {"trigger": "ticket.created", "every_minutes": 60},
        {"trigger": "schedule.fired", "every_minutes": 1},
    ],
)
async def test_schedules_go_with_the_schedule_trigger_only(
    body: dict[str, Any], tenant_a: TenantFixture
) -> None:
    http = await tenant_a.client()
    rule = {"name": "R", "actions": [{"type": "notify_team", "message": "x"}], **body}
    response = await http.post(tenant_a.url("/rules"), json=rule)
    assert response.status_code == 422, response.text
