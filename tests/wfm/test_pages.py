import secrets

import httpx
import pytest

from centralita.config import Settings
from centralita.identity import service as identity
from centralita.identity.models import User
from centralita.identity.permissions import Role
from tests.conftest import TEST_ACTOR, TenantFixture
from tests.routing.world import World, make_world, session_cookie
from tests.wfm.test_routes import schedule_body


@pytest.fixture
async def world(tenant_a: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


async def person(world: World, role: Role, name: str) -> User:
    async with world.db.system_session() as session:
        user = await identity.create_user(
            session,
            world.tenant.app.state.passwords,
            email=f"{secrets.token_hex(4)}@example.com",
            display_name=name,
            password="una contraseña larga 123",
        )
        await identity.grant_role(session, TEST_ACTOR, world.tenant.id, user, role)
        await session.commit()
    return user


async def browser(world: World, user: User, language: str) -> httpx.AsyncClient:
    """A signed-in browser that asks for pages in ``language`` (the language switch)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.tenant.app),
        base_url="http://testserver",
        cookies={"centralita_session": await session_cookie(world, user)},
        params={"lang": language},
    )


async def test_the_planner_sees_the_schedule_and_its_shifts_in_spanish_and_english(
    world: World,
) -> None:
    ana = await world.agent(name="Ana Pérez")
    planner = await person(world, Role.SUPERVISOR, "Paula Planificadora")
    api = await world.tenant.client(Role.SUPERVISOR)
    created = await api.post(world.tenant.url("/wfm/schedules"), json=schedule_body([ana.id]))
    assert created.status_code == 201, created.text

    spanish = await (await browser(world, planner, "es")).get(
        "/planning", params={"tenant": world.tenant.slug}
    )
    english = await (await browser(world, planner, "en")).get(
        "/planning", params={"tenant": world.tenant.slug}
    )

    assert spanish.status_code == 200, spanish.text
    assert "Planificación de personal" in spanish.text
    assert "Borrador" in spanish.text
    assert "Turnos de Semana 50" in spanish.text
    assert spanish.text.count("Ana Pérez") == 5  # a shift a day, Monday to Friday
    assert "9:00" in spanish.text  # shifts in the tenant's time (Madrid), not UTC
    assert "Workforce planning" in english.text
    assert "Draft schedule" in english.text
    assert "'unsafe-inline'" not in english.headers["content-security-policy"]


async def test_agents_and_other_companies_do_not_see_the_planning_page(
    world: World, tenant_b: TenantFixture
) -> None:
    agent = await person(world, Role.AGENT, "Alberto Agente")
    planner = await person(world, Role.SUPERVISOR, "Paula Planificadora")

    as_agent = await (await browser(world, agent, "en")).get(
        "/planning", params={"tenant": world.tenant.slug}
    )
    elsewhere = await (await browser(world, planner, "en")).get(
        "/planning", params={"tenant": tenant_b.slug}
    )
    empty = await (await browser(world, planner, "en")).get(
        "/planning", params={"tenant": world.tenant.slug}
    )

    assert as_agent.status_code == 404
    assert elsewhere.status_code == 404
    assert empty.status_code == 200
    assert "No schedule has been made for this company yet." in empty.text
