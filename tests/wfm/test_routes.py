import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from centralita.config import Settings
from centralita.events.bus import Bus, Event, supervisors_topic, user_topic, wait_for_published
from centralita.events.models import AuditEntry
from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction
from centralita.wfm.models import Schedule
from tests.conftest import TenantFixture, TenantMaker
from tests.routing.world import World, agent_client, make_world

MADRID = ZoneInfo("Europe/Madrid")
MONDAY = date(2026, 12, 7)  # Tuesday 8 December is a public holiday in Spain (Inmaculada)
OFFICE = [
    float(day < 5 and 9 <= hour < 17) for day in range(7) for hour in range(24)
]  # one agent 09:00-17:00, Monday to Friday


def problem_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


@pytest.fixture
async def world(tenant_a: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


def schedule_body(agents: list[uuid.UUID], **changes: Any) -> dict[str, Any]:
    return {
        "name": "Semana 50",
        "week_start": str(MONDAY),
        "interval_minutes": 60,
        "requirement": {"soporte": OFFICE},
        "templates": [{"name": "8h", "length_minutes": 480, "start_times": [480, 540, 600]}],
        "agents": [{"user_id": str(a), "skills": ["soporte"]} for a in agents],
        **changes,
    }


async def test_staffing_reproduces_the_published_example(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)

    response = await http.post(
        tenant_a.url("/wfm/staffing"),
        json={
            "interval_minutes": 30,
            "intervals": [{"calls": 100, "aht_s": 180}, {"calls": 0, "aht_s": 180}],
            "target": {"service_level": 0.8, "threshold_s": 20, "shrinkage": 0.3},
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["agents"] for i in body["intervals"]] == [14, 0]
    assert [i["scheduled_agents"] for i in body["intervals"]] == [20, 0]
    assert [i["binding"] for i in body["intervals"]] == ["service_level", "none"]
    assert body["peak_agents"] == 20


async def test_staffing_refuses_impossible_targets(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)
    url = tenant_a.url("/wfm/staffing")

    fields = problem_fields(
        await http.post(
            url,
            json={"intervals": [{"calls": -1, "aht_s": 0}], "target": {"service_level": 1.5}},
        )
    )
    assert {"body.intervals.0.calls", "body.intervals.0.aht_s", "body.target.service_level"} <= (
        fields
    )
    assert problem_fields(await http.post(url, json={"intervals": []})) == {"body.intervals"}


async def _history(world: World, days: list[date], hour: int, zone: ZoneInfo = MADRID) -> None:
    """Two contacts at ``hour`` local time on each of ``days``, each handled for 240 s."""
    ids = []
    for day in days:
        for minute in (5, 35):
            interaction_id = await world.arrive()
            queued = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            ids.append((interaction_id, queued.astimezone(UTC)))
    async with world.db.tenant_session(world.tenant.id) as session:
        for interaction_id, queued in ids:
            await session.execute(
                update(Interaction)
                .where(Interaction.id == interaction_id)
                .values(
                    queued_at=queued,
                    created_at=queued,
                    answered_at=queued + timedelta(seconds=30),
                    ended_at=queued + timedelta(seconds=270),
                )
            )
        await session.commit()


async def test_forecast_learns_the_weekly_pattern_and_knows_the_tenants_holidays(
    world: World,
) -> None:
    weekdays = [
        MONDAY - timedelta(days=n)
        for n in range(1, 22)
        if (MONDAY - timedelta(days=n)).weekday() < 5
    ]
    await _history(world, weekdays, hour=10)
    http = await world.tenant.client(Role.SUPERVISOR)

    response = await http.post(
        world.tenant.url("/wfm/forecast"),
        json={
            "queue": "soporte",
            "start": str(MONDAY),
            "days": 7,
            "history_days": 21,
            "staffing": {"service_level": 0.8, "threshold_s": 20, "shrinkage": 0.25},
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["history_contacts"] == 30
    monday, tuesday, *_, saturday, _sunday = body["days"]
    assert monday["contacts"] == pytest.approx(2, abs=0.3)
    ten = [i for i in monday["intervals"] if i["contacts"] > 0.1]
    # 10:00 and 10:30 in Madrid are 09:00 and 09:30 UTC in December.
    assert [i["starts_at"] for i in ten] == ["2026-12-07T09:00:00Z", "2026-12-07T09:30:00Z"]
    assert ten[0]["aht_s"] == pytest.approx(240)
    # One call per half hour of 240 s needs one agent on the phones, two scheduled with 25%
    # shrinkage; the hours nobody calls need nobody.
    staffed = [(i, s["agents"]) for i, s in enumerate(monday["staffing"]) if s["agents"]]
    assert staffed == [(20, 1), (21, 1)]
    assert monday["staffing"][20]["scheduled_agents"] == 2
    assert tuesday["holiday"] is True
    assert tuesday["contacts"] < 0.5  # forecast like the quietest day (the weekend)
    assert saturday["contacts"] == pytest.approx(0, abs=0.3)
    assert [a["day"] for a in body["accuracy"]] == [
        str(MONDAY - timedelta(days=n)) for n in range(7, 0, -1)
    ]
    assert all(a["wape"] is None or a["wape"] < 0.5 for a in body["accuracy"])
    assert body["note"] is None


async def test_a_planner_forecasts_next_week_and_schedules_the_staffing_it_needs(
    world: World,
) -> None:
    weekdays = [
        MONDAY - timedelta(days=n)
        for n in range(1, 22)
        if (MONDAY - timedelta(days=n)).weekday() < 5
    ]
    await _history(world, weekdays, hour=10)
    ana, bea = await world.agent(name="Ana"), await world.agent(name="Bea")
    http = await world.tenant.client(Role.SUPERVISOR)
    forecast = await http.post(
        world.tenant.url("/wfm/forecast"),
        json={
            "queue": "soporte",
            "start": str(MONDAY),
            "history_days": 21,
            "staffing": {"service_level": 0.8, "threshold_s": 20, "shrinkage": 0.25},
        },
    )
    assert forecast.status_code == 200, forecast.text
    # The forecast's staffing, Monday 00:00 onwards, is the schedule's requirement as it is.
    needed = [float(i["scheduled_agents"]) for d in forecast.json()["days"] for i in d["staffing"]]

    created = await http.post(
        world.tenant.url("/wfm/schedules"),
        json=schedule_body(
            [ana.id, bea.id],
            interval_minutes=30,
            requirement={"soporte": needed},
            templates=[{"name": "4h", "length_minutes": 240, "start_times": [480, 540, 600]}],
        ),
    )

    assert created.status_code == 201, created.text
    schedule = created.json()
    assert sum(needed) > 0
    assert schedule["required_hours"] == pytest.approx(sum(needed) / 2)
    assert schedule["short_hours"] == pytest.approx(0)
    # Every half hour that needs people has that many on shift.
    for interval, agents in enumerate(needed):
        if not agents:
            continue
        at = datetime.combine(MONDAY, datetime.min.time(), MADRID) + timedelta(
            minutes=30 * interval
        )
        on_shift = [
            s
            for s in schedule["shifts"]
            if datetime.fromisoformat(s["starts_at"]) <= at < datetime.fromisoformat(s["ends_at"])
        ]
        assert len(on_shift) >= agents, at


async def test_forecast_without_history_is_zero_with_a_note(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.CLIENT_VIEWER)

    response = await http.post(
        tenant_a.url("/wfm/forecast"), json={"start": str(MONDAY), "history_days": 14}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["history_contacts"] == 0
    assert all(day["contacts"] == 0 for day in body["days"])
    assert body["note"]
    assert all(a["wape"] is None for a in body["accuracy"])


async def test_forecast_refuses_bad_ranges(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)
    url = tenant_a.url("/wfm/forecast")

    response = await http.post(url, json={"start": str(MONDAY), "days": 400, "history_days": 3})

    assert problem_fields(response) == {"body.days", "body.history_days"}


async def test_a_planner_schedules_publishes_and_agents_see_their_shifts(world: World) -> None:
    ana, bea = await world.agent(name="Ana"), await world.agent(name="Bea")
    http = await world.tenant.client(Role.SUPERVISOR)
    ana_http = await agent_client(world, ana)

    created = await http.post(
        world.tenant.url("/wfm/schedules"), json=schedule_body([ana.id, bea.id])
    )

    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["status"] == "draft"
    assert schedule["required_hours"] == 40
    assert schedule["agent_hours"] == 40
    assert schedule["short_hours"] == pytest.approx(0)
    assert len(schedule["shifts"]) == 5
    first = schedule["shifts"][0]
    assert first["starts_at"] == "2026-12-07T08:00:00Z"  # 09:00 in Madrid
    assert first["ends_at"] == "2026-12-07T16:00:00Z"
    mine = await ana_http.get(world.tenant.url("/wfm/my-shifts"))
    assert mine.json() == []  # a draft is not shown to agents
    bus: Bus = world.tenant.app.state.bus
    received: list[Event] = []
    bus.subscribe(received.append)

    published = await http.post(world.tenant.url(f"/wfm/schedules/{schedule['id']}/publish"))
    await wait_for_published()

    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    bea_http = await agent_client(world, bea)
    seen = []
    for agent, client in ((ana, ana_http), (bea, bea_http)):
        theirs = [s["id"] for s in schedule["shifts"] if s["agent_user_id"] == str(agent.id)]
        mine = await client.get(world.tenant.url("/wfm/my-shifts"))
        assert [s["id"] for s in mine.json()] == theirs
        seen += theirs
    assert sorted(seen) == sorted(s["id"] for s in schedule["shifts"])
    [event] = [e for e in received if e.type == "wfm_schedule.published"]
    assert event.data["schedule_id"] == schedule["id"]
    owners = {uuid.UUID(s["agent_user_id"]) for s in schedule["shifts"]}
    assert set(event.recipients) == {supervisors_topic(world.tenant.id)} | {
        user_topic(owner) for owner in owners
    }
    async with world.db.tenant_session(world.tenant.id) as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert {"wfm_schedule.created", "wfm_schedule.published"} <= set(actions)

    listed = await http.get(world.tenant.url("/wfm/schedules"))
    assert [s["id"] for s in listed.json()] == [schedule["id"]]


async def test_adherence_compares_presence_with_the_schedule(world: World) -> None:
    ana, bea = await world.agent(name="Ana"), await world.agent(name="Bea")
    http = await world.tenant.client(Role.SUPERVISOR)
    schedule = (
        await http.post(world.tenant.url("/wfm/schedules"), json=schedule_body([ana.id, bea.id]))
    ).json()
    monday_shift = schedule["shifts"][0]
    working = uuid.UUID(monday_shift["agent_user_id"])
    at = "2026-12-07T10:00:00Z"

    response = await http.get(
        world.tenant.url(f"/wfm/schedules/{schedule['id']}/adherence"), params={"at": at}
    )

    assert response.status_code == 200, response.text
    rows = {uuid.UUID(r["agent_user_id"]): r for r in response.json()["agents"]}
    assert rows[working]["scheduled"] == "working"
    assert rows[working]["adherent"] is True  # available, as scheduled
    idle = next(a for a in (ana.id, bea.id) if a != working)
    if idle in rows:  # an agent with no shift this week is not on the schedule at all
        assert rows[idle]["scheduled"] == "off"
        assert rows[idle]["adherent"] is False  # available although off shift
    assert response.json()["adherence"] == pytest.approx(
        sum(r["adherent"] for r in rows.values()) / len(rows)
    )


async def test_bad_schedules_are_refused_and_nothing_is_stored(
    world: World, tenant_b: TenantFixture, settings: Settings
) -> None:
    ana = await world.agent(name="Ana")
    stranger = await (await make_world(tenant_b, settings, name="otro")).agent(name="Extraña")
    http = await world.tenant.client(Role.SUPERVISOR)
    url = world.tenant.url("/wfm/schedules")

    not_monday = await http.post(url, json=schedule_body([ana.id], week_start="2026-12-08"))
    foreign = await http.post(url, json=schedule_body([ana.id, stranger.id]))
    short = await http.post(url, json=schedule_body([ana.id], requirement={"soporte": [1.0] * 5}))
    agent_tries = await (await world.tenant.client(Role.AGENT)).post(
        url, json=schedule_body([ana.id])
    )

    assert problem_fields(not_monday) == {"body.week_start"}
    assert problem_fields(foreign) == {"body.agents"}
    assert problem_fields(short) == {"body"}
    assert agent_tries.status_code == 403
    async with world.db.tenant_session(world.tenant.id) as session:
        assert (await session.scalars(select(Schedule))).all() == []


async def test_intraday_reforecasts_the_rest_of_today_from_the_morning(
    make_tenant: TenantMaker, settings: Settings
) -> None:
    # A time zone in which it is now about noon, so that this morning has happened already.
    now = datetime.now(UTC)
    offset = 12 - now.hour
    zone = f"Etc/GMT{-offset:+d}" if offset else "UTC"
    tenant = await make_tenant(time_zone=zone)
    world = await make_world(tenant, settings)
    today = now.astimezone(ZoneInfo(zone)).date()
    morning = 9
    past = [today - timedelta(days=n) for n in range(1, 15)]
    await _history(world, past, hour=morning, zone=ZoneInfo(zone))
    # Today's morning ran at twice the usual volume.
    await _history(world, [today, today], hour=morning, zone=ZoneInfo(zone))
    http = await tenant.client(Role.SUPERVISOR)

    response = await http.post(
        tenant.url("/wfm/intraday"), json={"queue": "soporte", "history_days": 14}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["day"] == str(today)
    assert body["elapsed_intervals"] >= 2 * (morning + 1)
    nine = body["intervals"][2 * morning]
    assert nine["planned"] == pytest.approx(1, abs=0.2)
    assert nine["actual"] == 2
    assert body["intervals"][-1]["actual"] is None
    assert body["revised_contacts"] > body["planned_contacts"]
