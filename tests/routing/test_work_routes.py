"""The agent's side through the API: presence, work in hand, offers, transfer, wrap-up, stats."""

import pytest

from centralita.config import Settings
from centralita.identity.permissions import Role
from centralita.interactions.models import Channel
from tests.conftest import TenantFixture
from tests.routing.world import World, agent_client, make_world

PROBLEM = "application/problem+json"


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def test_an_agent_signs_in_and_sees_the_offer_in_their_work(world: World) -> None:
    agent = await world.agent(presence="offline")  # type: ignore[arg-type]
    http = await agent_client(world, agent)
    await world.start_router()

    signed_in = await http.put("/api/v1/agents/me/presence", json={"presence": "available"})
    await world.step()
    work_id = await world.arrive()
    await world.step()
    mine = await http.get("/api/v1/agents/me/work")

    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["presence"] == "available"
    body = mine.json()
    assert body["presence"] == "available"
    assert [(w["interaction_id"], w["state"], w["tenant_slug"]) for w in body["work"]] == [
        (str(work_id), "offered", world.tenant.slug)
    ]
    assert body["work"][0]["expires_at"] is not None


async def test_away_needs_a_reason_and_busy_cannot_be_chosen(world: World) -> None:
    agent = await world.agent()
    http = await agent_client(world, agent)

    no_reason = await http.put("/api/v1/agents/me/presence", json={"presence": "away"})
    busy = await http.put("/api/v1/agents/me/presence", json={"presence": "busy"})
    wrap_up = await http.put("/api/v1/agents/me/presence", json={"presence": "wrap_up"})

    assert no_reason.status_code == 422
    assert no_reason.headers["content-type"] == PROBLEM
    assert [e["field"] for e in no_reason.json()["errors"]] == ["body.reason"]
    assert busy.status_code == 422
    assert wrap_up.status_code == 422
    assert (await world.profile(agent)).presence == "available"


async def test_accepting_someone_elses_offer_is_refused_and_changes_nothing(
    world: World,
) -> None:
    offered_to = await world.agent(level=5)
    colleague = await world.agent(level=2, presence="away")  # type: ignore[arg-type]
    await world.start_router()
    work_id = await world.arrive()
    await world.step()

    http = await agent_client(world, colleague)
    response = await http.post(world.tenant.url(f"/interactions/{work_id}/accept"))

    assert response.status_code == 409
    assert response.json()["type"].endswith("/not-your-work")
    interaction = await world.interaction(work_id)
    assert (interaction.state, interaction.agent_user_id) == ("offered", offered_to.id)


async def test_accepting_twice_is_a_conflict(world: World) -> None:
    agent = await world.agent()
    await world.start_router()
    work_id = await world.arrive()
    await world.step()
    http = await agent_client(world, agent)

    first = await http.post(world.tenant.url(f"/interactions/{work_id}/accept"))
    second = await http.post(world.tenant.url(f"/interactions/{work_id}/accept"))

    assert first.status_code == 200
    assert first.json()["state"] == "active"
    assert second.status_code == 409


async def test_transfer_to_a_queue_keeps_the_context_and_requeues(world: World) -> None:
    agent = await world.agent()
    await world.start_router()
    work_id = await world.arrive()
    await world.step()
    http = await agent_client(world, agent)
    await http.post(world.tenant.url(f"/interactions/{work_id}/accept"))
    other = await make_world(world.tenant, world.settings, name="bajas")

    moved = await http.post(
        world.tenant.url(f"/interactions/{work_id}/transfer"),
        json={"queue_id": str(other.queue.id), "note": "Quiere darse de baja"},
    )

    assert moved.status_code == 200, moved.text
    assert (moved.json()["state"], moved.json()["queue"]) == ("queued", "bajas")
    thread = (await http.get(world.tenant.url(f"/interactions/{work_id}"))).json()
    assert thread["messages"][-1]["text"] == "Quiere darse de baja"
    assert thread["messages"][-1]["author_kind"] == "note"
    assert (await world.profile(agent)).load_chat == 0


async def test_transfer_into_another_tenants_queue_is_refused(
    world: World, tenant_b: TenantFixture
) -> None:
    agent = await world.agent()
    elsewhere = await make_world(tenant_b, world.settings)
    await world.start_router()
    work_id = await world.arrive()
    await world.step()
    http = await agent_client(world, agent)
    await http.post(world.tenant.url(f"/interactions/{work_id}/accept"))

    response = await http.post(
        world.tenant.url(f"/interactions/{work_id}/transfer"),
        json={"queue_id": str(elsewhere.queue.id)},
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.queue_id"]
    assert (await world.interaction(work_id)).state == "active"


async def test_wrap_up_records_the_disposition(world: World) -> None:
    agent = await world.agent()
    await world.start_router()
    work_id = await world.arrive(Channel.VOICE)
    await world.step()
    http = await agent_client(world, agent)
    await http.post(world.tenant.url(f"/interactions/{work_id}/accept"))

    ended = await http.post(world.tenant.url(f"/interactions/{work_id}/end"))
    missing = await http.post(world.tenant.url(f"/interactions/{work_id}/wrap-up"), json={})
    done = await http.post(
        world.tenant.url(f"/interactions/{work_id}/wrap-up"), json={"disposition": "resolved"}
    )

    assert ended.json()["state"] == "wrap_up"
    assert missing.status_code == 422
    assert (done.json()["state"], done.json()["disposition"]) == ("ended", "resolved")
    assert (await world.profile(agent)).load_voice == 0


async def test_only_a_supervisor_can_set_someone_elses_presence(world: World) -> None:
    agent = await world.agent()
    colleague = await world.agent()
    as_agent = await agent_client(world, colleague)
    as_supervisor = await world.tenant.client(Role.SUPERVISOR)
    path = world.tenant.url(f"/agents/{agent.id}/presence")

    refused = await as_agent.put(path, json={"presence": "offline"})
    not_available = await as_supervisor.put(path, json={"presence": "available"})
    signed_out = await as_supervisor.put(path, json={"presence": "offline"})

    assert refused.status_code == 403
    assert not_available.status_code == 422
    assert signed_out.status_code == 200
    assert (await world.profile(agent)).presence == "offline"


async def test_queue_statistics_count_waiting_work_and_service_level(world: World) -> None:
    agent = await world.agent(capacity_chat=1)
    await world.start_router()
    answered = await world.arrive()
    waiting = [await world.arrive() for _ in range(2)]
    await world.step()
    await (await agent_client(world, agent)).post(
        world.tenant.url(f"/interactions/{answered}/accept")
    )
    supervisor = await world.tenant.client(Role.SUPERVISOR)
    as_agent = await agent_client(world, agent)

    stats = await supervisor.get(world.tenant.url("/stats/queues"))
    last = await supervisor.get(world.tenant.url(f"/interactions/{waiting[-1]}/position"))
    taken = await supervisor.get(world.tenant.url(f"/interactions/{answered}/position"))
    forbidden = await as_agent.get(world.tenant.url("/stats/queues"))

    assert stats.status_code == 200, stats.text
    (queue,) = stats.json()
    assert (queue["name"], queue["waiting"]) == ("soporte", 2)
    assert queue["agents"]["busy"] == 1
    today = queue["today"]
    assert (today["offered"], today["answered"], today["abandoned"]) == (3, 1, 0)
    assert today["service_level"] == 1.0
    assert queue["estimated_wait_seconds"] > 0
    assert last.json()["position"] == 2
    assert taken.json() == {"position": 0, "estimated_wait_seconds": None}
    assert forbidden.status_code == 403


async def test_a_closed_queue_says_when_it_opens_and_offers_a_callback(world: World) -> None:
    supervisor = await world.tenant.client(Role.SUPERVISOR)
    path = world.tenant.url(f"/queues/{world.queue.id}")
    open_now = await supervisor.get(f"{path}/availability")
    # Open one minute a week (Monday 00:00 in Madrid), so closed now.
    await supervisor.patch(path, json={"business_hours": {"mon": [["00:00", "00:01"]]}})
    closed = await supervisor.get(f"{path}/availability")
    await supervisor.patch(path, json={"business_hours": {}, "callback_threshold_seconds": 1})
    for _ in range(3):
        await world.arrive()

    assert open_now.status_code == 200, open_now.text
    assert (open_now.json()["open"], open_now.json()["offer_callback"]) == (True, False)
    assert closed.json()["open"] is False
    assert closed.json()["offer_callback"] is True
    assert closed.json()["estimated_wait_seconds"] is None
    assert closed.json()["next_opening"] is not None
    busy = (await supervisor.get(f"{path}/availability")).json()
    assert busy["estimated_wait_seconds"] > 1
    assert busy["offer_callback"] is True
