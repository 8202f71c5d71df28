"""A supervisor hands waiting work straight to a chosen agent."""

import pytest

from centralita.config import Settings
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture
from tests.routing.world import World, agent_client, make_world

PROBLEM = "application/problem+json"


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def test_waiting_work_is_offered_to_the_chosen_agent(world: World) -> None:
    chosen = await world.agent(level=2, name="Elegida")
    supervisor = await world.tenant.client(Role.SUPERVISOR)
    work_id = await world.arrive()

    offered = await supervisor.post(
        world.tenant.url(f"/interactions/{work_id}/offer"), json={"agent_id": str(chosen.id)}
    )

    assert offered.status_code == 200, offered.text
    assert offered.json()["state"] == "offered"
    assert offered.json()["agent_user_id"] == str(chosen.id)
    mine = (await (await agent_client(world, chosen)).get("/api/v1/agents/me/work")).json()
    assert [w["interaction_id"] for w in mine["work"]] == [str(work_id)]
    assert mine["work"][0]["expires_at"] is not None
    again = await supervisor.post(
        world.tenant.url(f"/interactions/{work_id}/offer"), json={"agent_id": str(chosen.id)}
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM


async def test_offline_or_foreign_agents_are_refused_and_nothing_changes(
    world: World, tenant_b: TenantFixture
) -> None:
    offline = await world.agent(presence="offline")  # type: ignore[arg-type]
    elsewhere = await (await make_world(tenant_b, world.settings, "otra")).agent()
    supervisor = await world.tenant.client(Role.SUPERVISOR)
    agent = await world.tenant.client(Role.AGENT)
    work_id = await world.arrive()
    path = world.tenant.url(f"/interactions/{work_id}/offer")

    asleep = await supervisor.post(path, json={"agent_id": str(offline.id)})
    foreign = await supervisor.post(path, json={"agent_id": str(elsewhere.id)})
    not_allowed = await agent.post(path, json={"agent_id": str(offline.id)})

    assert asleep.status_code == 422
    assert [e["field"] for e in asleep.json()["errors"]] == ["body.agent_id"]
    assert foreign.status_code == 422
    assert not_allowed.status_code == 403
    interaction = await world.interaction(work_id)
    assert interaction.state == "queued"
    assert await world.assignments(work_id) == []
