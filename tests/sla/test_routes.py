import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from centralita.identity.permissions import Role
from centralita.sla.models import TargetKind
from centralita.sla.service import SlaEvent
from centralita.tickets.models import Category, Team
from tests.conftest import TenantFixture
from tests.sla.test_service import make_ticket, target, track

OFFICE_HOURS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


async def created(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(url, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def fields_of(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


async def ticket_tables_row(tenant: TenantFixture, row: Category | Team) -> uuid.UUID:
    async with tenant.db.tenant_session(tenant.id) as session:
        session.add(row)
        await session.commit()
    return row.id


# --- business calendars ------------------------------------------------------------------------


async def test_a_supervisor_keeps_a_calendar_and_an_agent_reads_it(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    supervisor = await tenant_a.client(Role.SUPERVISOR)
    calendar = await created(
        supervisor,
        tenant_a.url("/business-calendars"),
        {
            "name": "Madrid office",
            "weekly_hours": {
                "fri": [["09:00", "15:00"]],
                "mon": [["15:00", "19:00"], ["08:00", "14:00"]],
            },
            "closures": [
                {
                    "start": "2026-08-10T00:00:00+02:00",
                    "end": "2026-08-17T00:00:00+02:00",
                    "label": "Summer",
                }
            ],
        },
    )
    assert calendar["time_zone"] == "Europe/Madrid"  # the tenant's
    assert calendar["public_holidays"] is True
    assert calendar["weekly_hours"] == {
        "mon": [["08:00", "14:00"], ["15:00", "19:00"]],
        "fri": [["09:00", "15:00"]],
    }

    changed = await supervisor.patch(
        tenant_a.url(f"/business-calendars/{calendar['id']}"),
        json={"time_zone": "Atlantic/Canary", "public_holidays": False, "closures": []},
    )
    agent = await tenant_a.client(Role.AGENT)
    listed = await agent.get(tenant_a.url("/business-calendars"))
    refused = await agent.patch(
        tenant_a.url(f"/business-calendars/{calendar['id']}"), json={"name": "Mine"}
    )

    assert changed.status_code == 200, changed.text
    assert (changed.json()["time_zone"], changed.json()["closures"]) == ("Atlantic/Canary", [])
    assert [c["name"] for c in listed.json()] == ["Madrid office"]
    assert refused.status_code == 403


async def test_a_night_shift_crosses_midnight(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)

    calendar = await created(
        http,
        tenant_a.url("/business-calendars"),
        {
            "name": "Nights",
            "time_zone": "America/Bogota",
            "weekly_hours": {"fri": [["22:00", "06:00"]]},
        },
    )

    assert calendar["weekly_hours"] == {"fri": [["22:00", "06:00"]]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weekly_hours": {"monday": [["09:00", "18:00"]]}}, "body.weekly_hours.monday.[key]"),
        ({"weekly_hours": {"mon": [["9:00", "18:00"]]}}, "body.weekly_hours.mon.0.0"),
        ({"weekly_hours": {"mon": [["24:00", "06:00"]]}}, "body.weekly_hours"),
        ({"weekly_hours": {}}, "body.weekly_hours"),
        ({"time_zone": "Europe/Atlantis"}, "body.time_zone"),
        (
            {
                "closures": [
                    {"start": "2026-08-17T00:00:00+02:00", "end": "2026-08-10T00:00:00+02:00"}
                ]
            },
            "body.closures.0",
        ),
        (
            {"closures": [{"start": "2026-08-10T00:00:00", "end": "2026-08-17T00:00:00"}]},
            "body.closures.0",
        ),
    ],
)
async def test_a_calendar_that_makes_no_sense_is_refused_on_its_field(
    tenant_a: TenantFixture, body: dict[str, Any], field: str
) -> None:
    http = await tenant_a.client(Role.ADMIN)

    response = await http.post(
        tenant_a.url("/business-calendars"),
        json={"name": "Broken", "weekly_hours": OFFICE_HOURS, **body},
    )

    assert field in fields_of(response)
    assert (await http.get(tenant_a.url("/business-calendars"))).json() == []


async def test_a_calendar_in_use_cannot_be_deleted(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)
    calendar = await created(
        http, tenant_a.url("/business-calendars"), {"name": "Office", "weekly_hours": OFFICE_HOURS}
    )
    policy = await created(
        http, tenant_a.url("/sla-policies"), {"name": "Standard", "calendar_id": calendar["id"]}
    )

    in_use = await http.delete(tenant_a.url(f"/business-calendars/{calendar['id']}"))
    await http.patch(tenant_a.url(f"/sla-policies/{policy['id']}"), json={"calendar_id": None})
    freed = await http.delete(tenant_a.url(f"/business-calendars/{calendar['id']}"))

    assert in_use.status_code == 409
    assert freed.status_code == 204
    gone = await http.get(tenant_a.url(f"/business-calendars/{calendar['id']}"))
    assert gone.status_code == 404


async def test_two_calendars_cannot_share_a_name(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)
    body = {"name": "Office", "weekly_hours": OFFICE_HOURS}
    await created(http, tenant_a.url("/business-calendars"), body)

    response = await http.post(tenant_a.url("/business-calendars"), json=body)

    assert response.status_code == 409


# --- policies ----------------------------------------------------------------------------------


async def test_policies_are_listed_in_the_order_they_are_tried(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)
    fallback = await created(http, tenant_a.url("/sla-policies"), {"name": "Everything else"})
    vip = await created(
        http,
        tenant_a.url("/sla-policies"),
        {"name": "VIP", "position": 0, "conditions": {"value_tiers": ["gold", "platinum"]}},
    )
    await http.patch(tenant_a.url(f"/sla-policies/{fallback['id']}"), json={"position": 5})

    listed = (await http.get(tenant_a.url("/sla-policies"))).json()

    assert fallback["position"] == 0  # appended after none
    assert [(p["name"], p["position"]) for p in listed] == [("VIP", 0), ("Everything else", 5)]
    assert vip["conditions"] == {"value_tiers": ["gold", "platinum"]}


async def test_a_policy_keeps_its_targets_and_escalations_in_order(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    calendar = await created(
        http, tenant_a.url("/business-calendars"), {"name": "Office", "weekly_hours": OFFICE_HOURS}
    )
    team_id = await ticket_tables_row(tenant_a, Team(tenant_id=tenant_a.id, name="Tier 2"))
    category_id = await ticket_tables_row(
        tenant_a, Category(tenant_id=tenant_a.id, name="Hardware")
    )

    policy = await created(
        http,
        tenant_a.url("/sla-policies"),
        {
            "name": "Incidents",
            "conditions": {
                "priorities": ["P1", "P2"],
                "types": ["incident"],
                "category_ids": [str(category_id)],
                "channels": ["email", "chat"],
                "segments": ["banca privada"],
            },
            "targets": {"P1": {"first_response": 30, "resolution": 240}, "P2": {"resolution": 480}},
            "calendar_id": calendar["id"],
            "pause_on_pending_customer": False,
            "escalations": [
                {
                    "target": "resolution",
                    "percent": 100,
                    "notify": ["supervisors"],
                    "raise_priority": True,
                },
                {
                    "target": "resolution",
                    "percent": 75,
                    "notify": ["assignee", "team"],
                    "reassign_team_id": str(team_id),
                },
            ],
        },
    )

    assert policy["targets"] == {
        "P1": {"first_response": 30, "resolution": 240},
        "P2": {"resolution": 480},
    }
    assert [step["percent"] for step in policy["escalations"]] == [75, 100]
    assert policy["escalations"][0]["reassign_team_id"] == str(team_id)
    assert policy["calendar_id"] == calendar["id"]
    fetched = await http.get(tenant_a.url(f"/sla-policies/{policy['id']}"))
    assert fetched.json() == policy


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"targets": {"P1": {"resolution": 0}}}, "body.targets.P1.resolution"),
        ({"targets": {"P5": {"resolution": 60}}}, "body.targets.P5"),
        ({"conditions": {"priorities": ["urgent"]}}, "body.conditions.priorities.0"),
        ({"conditions": {"colours": ["red"]}}, "body.conditions.colours"),
        ({"escalations": [{"target": "resolution", "percent": 250}]}, "body.escalations.0.percent"),
        (
            {"escalations": [{"target": "resolution", "percent": 50, "notify": ["everyone"]}]},
            "body.escalations.0.notify.0",
        ),
        (
            {
                "escalations": [
                    {"target": "resolution", "percent": 50},
                    {"target": "resolution", "percent": 50},
                ]
            },
            "body.escalations",
        ),
        ({"calendar_id": str(uuid.uuid4())}, "body.calendar_id"),
    ],
)
async def test_a_policy_that_makes_no_sense_is_refused_on_its_field(
    tenant_a: TenantFixture, body: dict[str, Any], field: str
) -> None:
    http = await tenant_a.client(Role.ADMIN)

    response = await http.post(tenant_a.url("/sla-policies"), json={"name": "Broken", **body})

    assert field in fields_of(response)


async def test_a_policy_cannot_name_another_tenants_calendar_category_or_team(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    other = await tenant_b.client(Role.ADMIN)
    calendar = await created(
        other, tenant_b.url("/business-calendars"), {"name": "B's", "weekly_hours": OFFICE_HOURS}
    )
    category_id = await ticket_tables_row(tenant_b, Category(tenant_id=tenant_b.id, name="B's"))
    team_id = await ticket_tables_row(tenant_b, Team(tenant_id=tenant_b.id, name="B's"))
    http = await tenant_a.client(Role.ADMIN)

    response = await http.post(
        tenant_a.url("/sla-policies"),
        json={
            "name": "Borrowing",
            "calendar_id": calendar["id"],
            "conditions": {"category_ids": [str(category_id)]},
            "escalations": [
                {"target": "resolution", "percent": 90, "reassign_team_id": str(team_id)}
            ],
        },
    )

    assert fields_of(response) == {
        "body.calendar_id",
        "body.conditions.category_ids.0",
        "body.escalations.0.reassign_team_id",
    }
    assert (await http.get(tenant_a.url("/sla-policies"))).json() == []


async def test_a_policy_change_moves_the_deadlines_of_its_open_tickets(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    policy = await created(
        http, tenant_a.url("/sla-policies"), {"name": "All", "targets": {"P3": {"resolution": 60}}}
    )
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    ticket = await make_ticket(tenant_a, start)
    await track(tenant_a, ticket, SlaEvent.CREATED, start)

    response = await http.patch(
        tenant_a.url(f"/sla-policies/{policy['id']}"),
        json={"targets": {"P3": {"resolution": 120}}},
    )

    assert response.status_code == 200, response.text
    assert (await target(tenant_a, ticket.id, TargetKind.RESOLUTION)).due_at == datetime(
        2026, 3, 2, 11, tzinfo=UTC
    )


async def test_a_policy_tickets_have_had_targets_under_is_deactivated_not_deleted(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    used = await created(
        http, tenant_a.url("/sla-policies"), {"name": "Used", "targets": {"P3": {"resolution": 60}}}
    )
    unused = await created(http, tenant_a.url("/sla-policies"), {"name": "Unused"})
    ticket = await make_ticket(tenant_a, datetime(2026, 3, 2, 9, tzinfo=UTC))
    await track(tenant_a, ticket, SlaEvent.CREATED, ticket.created_at)

    refused = await http.delete(tenant_a.url(f"/sla-policies/{used['id']}"))
    deleted = await http.delete(tenant_a.url(f"/sla-policies/{unused['id']}"))
    deactivated = await http.patch(
        tenant_a.url(f"/sla-policies/{used['id']}"), json={"is_active": False}
    )
    nulled = await http.patch(tenant_a.url(f"/sla-policies/{used['id']}"), json={"name": None})

    assert refused.status_code == 409
    assert deleted.status_code == 204
    assert deactivated.json()["is_active"] is False
    assert "body.name" in fields_of(nulled)


async def test_changes_are_audited(tenant_a: TenantFixture) -> None:
    from centralita.events.models import AuditEntry

    http = await tenant_a.client(Role.ADMIN)
    calendar = await created(
        http, tenant_a.url("/business-calendars"), {"name": "Office", "weekly_hours": OFFICE_HOURS}
    )
    await http.patch(tenant_a.url(f"/business-calendars/{calendar['id']}"), json={"name": "HQ"})

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        query = (
            select(AuditEntry).where(AuditEntry.entity_id == calendar["id"]).order_by(AuditEntry.at)
        )
        entries = list((await session.execute(query)).scalars())
    assert [e.action for e in entries] == ["business_calendar.created", "business_calendar.updated"]
    assert (entries[1].before, entries[1].after) == ({"name": "Office"}, {"name": "HQ"})
