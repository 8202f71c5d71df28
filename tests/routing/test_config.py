"""The routing configuration API (skills, queues, agents) and the business calendar."""

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from centralita.identity.models import Membership
from centralita.identity.permissions import Role
from centralita.jobs.models import Job, JobKind
from centralita.routing.calendar import is_open, next_opening, tenant_holidays
from centralita.routing.models import AgentProfile, Queue
from centralita.tenancy.models import Tenant
from tests.conftest import TenantFixture

MADRID = "Europe/Madrid"
PROBLEM = "application/problem+json"
AGENT_PROFILE: dict[str, Any] = {
    "languages": ["es", "EN"],
    "capacity": {"voice": 1, "chat": 2, "email": 4, "sms": 0, "task": 10},
    "occupancy_cap": 0.9,
    "wrap_up_seconds": 45,
    "skills": [],
}


async def post(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(url, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def skill(tenant: TenantFixture, name: str) -> str:
    http = await tenant.client(Role.ADMIN)
    return str((await post(http, tenant.url("/skills"), {"name": name}))["id"])


async def member(tenant: TenantFixture, role: Role, name: str, email: str | None = None) -> str:
    http = await tenant.client(Role.ADMIN)
    body = {
        "email": email or f"{uuid.uuid4().hex[:10]}@example.com",
        "role": role,
        "display_name": name,
        "password": "a long enough password",
    }
    return str((await post(http, tenant.url("/members"), body))["user_id"])


async def scheduled(tenant: TenantFixture, kind: JobKind) -> list[uuid.UUID]:
    """The ids the routing jobs of this kind were scheduled for: the tenant's queues or members."""
    owned = (
        select(Queue.id).where(Queue.tenant_id == tenant.id)
        if kind == JobKind.ROUTING_QUEUE
        else select(Membership.user_id).where(Membership.tenant_id == tenant.id)
    )
    async with tenant.db.system_session() as session:
        query = select(Job.ref_id).where(Job.kind == kind, Job.ref_id.in_(owned)).order_by(Job.id)
        return [ref for ref in (await session.execute(query)).scalars() if ref is not None]


def fields_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return [error["field"] for error in response.json()["errors"]]


# --- skills ----------------------------------------------------------------------------------


async def test_supervisor_manages_skills(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)
    tarjetas = await post(http, tenant_a.url("/skills"), {"name": "tarjetas"})
    await post(http, tenant_a.url("/skills"), {"name": "inglés", "description": "C1"})

    listed = await http.get(tenant_a.url("/skills"))
    renamed = await http.patch(
        tenant_a.url(f"/skills/{tarjetas['id']}"), json={"name": "hipotecas", "description": "x"}
    )
    deleted = await http.delete(tenant_a.url(f"/skills/{tarjetas['id']}"))
    gone = await http.get(tenant_a.url(f"/skills/{tarjetas['id']}"))

    assert [s["name"] for s in listed.json()] == ["inglés", "tarjetas"]
    assert renamed.json()["name"] == "hipotecas"
    assert renamed.json()["description"] == "x"
    assert deleted.status_code == 204
    assert gone.status_code == 404
    audit = (await (await tenant_a.client()).get(tenant_a.url("/audit"))).json()["items"]
    actions = [entry["action"] for entry in audit if entry["entity_type"] == "skill"]
    assert actions == ["skill.deleted", "skill.updated", "skill.created", "skill.created"]


async def test_skill_names_are_unique_in_a_tenant_only(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client()
    await skill(tenant_a, "tarjetas")
    other = await skill(tenant_a, "seguros")
    await skill(tenant_b, "tarjetas")

    duplicate = await http.post(tenant_a.url("/skills"), json={"name": "tarjetas"})
    renamed = await http.patch(tenant_a.url(f"/skills/{other}"), json={"name": "tarjetas"})
    empty = await http.post(tenant_a.url("/skills"), json={"name": ""})

    for response in (duplicate, renamed):
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].endswith("/skill-exists")
    assert [e["pointer"] for e in empty.json()["errors"]] == ["#/name"]
    listed = (await http.get(tenant_a.url("/skills"))).json()
    assert sorted(s["name"] for s in listed) == ["seguros", "tarjetas"]


async def test_agent_reads_the_configuration_but_cannot_change_it(tenant_a: TenantFixture) -> None:
    tarjetas = await skill(tenant_a, "tarjetas")
    queue = await post(
        await tenant_a.client(), tenant_a.url("/queues"), {"name": "ventas", "channels": ["chat"]}
    )
    agent_id = await member(tenant_a, Role.AGENT, "Ana")
    http = await tenant_a.client(Role.AGENT)

    reads = [
        await http.get(tenant_a.url(path))
        for path in ("/skills", f"/queues/{queue['id']}", "/agents", f"/agents/{agent_id}")
    ]
    writes = [
        await http.post(tenant_a.url("/skills"), json={"name": "nueva"}),
        await http.patch(tenant_a.url(f"/skills/{tarjetas}"), json={"name": "otra"}),
        await http.delete(tenant_a.url(f"/skills/{tarjetas}")),
        await http.post(tenant_a.url("/queues"), json={"name": "x", "channels": ["chat"]}),
        await http.patch(tenant_a.url(f"/queues/{queue['id']}"), json={"priority": 9}),
        await http.delete(tenant_a.url(f"/queues/{queue['id']}")),
        await http.put(tenant_a.url(f"/agents/{agent_id}"), json=AGENT_PROFILE),
    ]

    assert [r.status_code for r in reads] == [200] * len(reads)
    assert [r.status_code for r in writes] == [403] * len(writes)


# --- queues ----------------------------------------------------------------------------------


async def test_queue_is_created_with_named_skills_overflow_and_hours(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)
    tarjetas = await skill(tenant_a, "tarjetas")
    ingles = await skill(tenant_a, "inglés")
    backup = await post(http, tenant_a.url("/queues"), {"name": "general", "channels": ["voice"]})

    queue = await post(
        http,
        tenant_a.url("/queues"),
        {
            "name": "tarjetas-en",
            "description": "Card holders who speak English",
            "channels": ["voice", "callback", "voice"],
            "language": "en",
            "priority": 7,
            "skills": [{"skill_id": tarjetas, "min_level": 3}, {"skill_id": ingles}],
            "overflow": [
                {"after_seconds": 30, "min_level": 1},
                {"after_seconds": 90, "extra_queue_ids": [backup["id"], backup["id"]]},
            ],
            "callback_threshold_seconds": 300,
            "business_hours": {"mon": [["15:00", "20:00"], ["08:00", "14:00"]]},
        },
    )

    assert queue["channels"] == ["callback", "voice"]
    assert queue["skills"] == [
        {"skill_id": ingles, "name": "inglés", "min_level": 1},
        {"skill_id": tarjetas, "name": "tarjetas", "min_level": 3},
    ]
    assert queue["overflow"][1] == {
        "after_seconds": 90,
        "min_level": None,
        "extra_queue_ids": [backup["id"]],
    }
    assert queue["business_hours"] == {"mon": [["08:00", "14:00"], ["15:00", "20:00"]]}
    assert (queue["sl_target_percent"], queue["sl_threshold_seconds"]) == (80, 20)
    assert (queue["offer_timeout_seconds"], queue["auto_accept"]) == (15, False)
    fetched = await http.get(tenant_a.url(f"/queues/{queue['id']}"))
    assert fetched.json() == queue
    listed = await http.get(tenant_a.url("/queues"))
    assert [q["name"] for q in listed.json()] == ["general", "tarjetas-en"]
    assert queue["id"] in [str(ref) for ref in await scheduled(tenant_a, JobKind.ROUTING_QUEUE)]


async def test_a_queue_answered_in_hours_defaults_to_a_four_hour_service_level(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client()

    queue = await post(
        http,
        tenant_a.url("/queues"),
        {"name": "backoffice", "channels": ["email", "task"], "auto_accept": True},
    )

    assert (queue["sl_target_percent"], queue["sl_threshold_seconds"]) == (90, 4 * 3600)
    assert queue["auto_accept"] is True


Body = Callable[[str], dict[str, Any]]
INVALID_QUEUES: list[tuple[Body, str]] = [
    (lambda _: {"name": "Ventas"}, "body.name"),
    (lambda _: {"channels": []}, "body.channels"),
    (lambda _: {"channels": ["fax"]}, "body.channels"),
    (lambda _: {"language": "fr"}, "body.language"),
    (lambda _: {"priority": 10}, "body.priority"),
    (lambda _: {"sl_target_percent": 0}, "body.sl_target_percent"),
    (lambda _: {"offer_timeout_seconds": 601}, "body.offer_timeout_seconds"),
    (lambda _: {"callback_threshold_seconds": 0}, "body.callback_threshold_seconds"),
    (lambda _: {"surprise": 1}, "body.surprise"),
    (lambda _: {"auto_accept": True}, "body.auto_accept"),
    (lambda _: {"skills": [{"skill_id": str(uuid.uuid4())}]}, "body.skills.0.skill_id"),
    (lambda s: {"skills": [{"skill_id": s}, {"skill_id": s}]}, "body.skills.1.skill_id"),
    (lambda s: {"skills": [{"skill_id": s, "min_level": 6}]}, "body.skills.0.min_level"),
    (lambda _: {"overflow": [{"after_seconds": 0, "min_level": 1}]}, "body.overflow.0"),
    (
        lambda _: {"overflow": [{"after_seconds": 60 * n, "min_level": 1} for n in range(1, 7)]},
        "body.overflow",
    ),
    (
        lambda _: {
            "overflow": [
                {"after_seconds": 60, "min_level": 2},
                {"after_seconds": 60, "min_level": 1},
            ]
        },
        "body.overflow.1.after_seconds",
    ),
    (lambda _: {"overflow": [{"after_seconds": 60}]}, "body.overflow.0"),
    (
        lambda _: {"overflow": [{"after_seconds": 60, "extra_queue_ids": [str(uuid.uuid4())]}]},
        "body.overflow.0.extra_queue_ids.0",
    ),
    (lambda _: {"business_hours": {"lunes": [["08:00", "20:00"]]}}, "body.business_hours.lunes"),
    (lambda _: {"business_hours": {"mon": [["8:00", "20:00"]]}}, "body.business_hours.mon.0.0"),
    (lambda _: {"business_hours": {"mon": [["20:00", "08:00"]]}}, "body.business_hours.mon.0"),
    (
        lambda _: {"business_hours": {"mon": [["08:00", "14:00"], ["13:00", "20:00"]]}},
        "body.business_hours.mon",
    ),
    (lambda _: {"business_hours": {"mon": []}}, "body.business_hours"),
]


@pytest.mark.parametrize(("invalid", "field"), INVALID_QUEUES)
async def test_invalid_queue_is_a_problem_naming_the_field_and_creates_nothing(
    tenant_a: TenantFixture, invalid: Body, field: str
) -> None:
    http = await tenant_a.client()
    tarjetas = await skill(tenant_a, "tarjetas")

    response = await http.post(
        tenant_a.url("/queues"), json={"name": "ventas", "channels": ["voice"], **invalid(tarjetas)}
    )

    assert any(f.startswith(field) for f in fields_of(response)), response.text
    assert (await http.get(tenant_a.url("/queues"))).json() == []
    assert await scheduled(tenant_a, JobKind.ROUTING_QUEUE) == []


async def test_another_tenants_skill_or_queue_cannot_be_used(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client()
    their_skill = await skill(tenant_b, "tarjetas")
    their_queue = await post(
        await tenant_b.client(), tenant_b.url("/queues"), {"name": "b", "channels": ["chat"]}
    )

    response = await http.post(
        tenant_a.url("/queues"),
        json={
            "name": "ventas",
            "channels": ["chat"],
            "skills": [{"skill_id": their_skill}],
            "overflow": [{"after_seconds": 60, "extra_queue_ids": [their_queue["id"]]}],
        },
    )

    assert fields_of(response) == ["body.skills.0.skill_id", "body.overflow.0.extra_queue_ids.0"]
    assert (await http.get(tenant_a.url("/queues"))).json() == []


async def test_a_tenant_never_sees_another_tenants_queues(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    queue = await post(
        await tenant_a.client(), tenant_a.url("/queues"), {"name": "ventas", "channels": ["chat"]}
    )
    http = await tenant_b.client()

    assert (await http.get(tenant_b.url("/queues"))).json() == []
    assert (await http.get(tenant_b.url(f"/queues/{queue['id']}"))).status_code == 404
    patched = await http.patch(tenant_b.url(f"/queues/{queue['id']}"), json={"priority": 1})
    assert patched.status_code == 404


async def test_update_replaces_skills_and_schedules_the_queue_reload(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client()
    tarjetas = await skill(tenant_a, "tarjetas")
    seguros = await skill(tenant_a, "seguros")
    queue = await post(
        http,
        tenant_a.url("/queues"),
        {"name": "ventas", "channels": ["chat"], "skills": [{"skill_id": tarjetas}]},
    )
    created_jobs = len(await scheduled(tenant_a, JobKind.ROUTING_QUEUE))

    response = await http.patch(
        tenant_a.url(f"/queues/{queue['id']}"),
        json={
            "name": "ventas-2",
            "description": None,
            "skills": [{"skill_id": seguros, "min_level": 4}],
            "business_hours": {},
        },
    )
    unchanged = await http.patch(tenant_a.url(f"/queues/{queue['id']}"), json={"priority": 0})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "ventas-2"
    assert response.json()["skills"] == [{"skill_id": seguros, "name": "seguros", "min_level": 4}]
    assert unchanged.status_code == 200
    jobs = await scheduled(tenant_a, JobKind.ROUTING_QUEUE)
    assert len(jobs) == created_jobs + 1
    assert jobs[-1] == uuid.UUID(queue["id"])


async def test_invalid_update_changes_nothing(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    queue = await post(http, tenant_a.url("/queues"), {"name": "ventas", "channels": ["chat"]})

    nulled = await http.patch(tenant_a.url(f"/queues/{queue['id']}"), json={"name": None})
    unknown = await http.patch(
        tenant_a.url(f"/queues/{queue['id']}"),
        json={"priority": 9, "skills": [{"skill_id": str(uuid.uuid4())}]},
    )
    into_itself = await http.patch(
        tenant_a.url(f"/queues/{queue['id']}"),
        json={"overflow": [{"after_seconds": 10, "extra_queue_ids": [queue["id"]]}]},
    )
    voice_auto_accept = await http.patch(
        tenant_a.url(f"/queues/{queue['id']}"), json={"auto_accept": True}
    )

    assert fields_of(nulled) == ["body.name"]
    assert fields_of(unknown) == ["body.skills.0.skill_id"]
    assert fields_of(into_itself) == ["body.overflow.0.extra_queue_ids.0"]
    assert fields_of(voice_auto_accept) == ["body.auto_accept"]
    assert (await http.get(tenant_a.url(f"/queues/{queue['id']}"))).json() == queue


async def test_a_new_default_queue_takes_the_flag_from_the_one_sharing_its_channel(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client()
    chat = await post(
        http, tenant_a.url("/queues"), {"name": "a", "channels": ["chat"], "is_default": True}
    )
    email = await post(
        http, tenant_a.url("/queues"), {"name": "b", "channels": ["email"], "is_default": True}
    )

    both = await post(
        http,
        tenant_a.url("/queues"),
        {"name": "c", "channels": ["chat", "sms"], "is_default": True},
    )

    defaults = {
        q["name"]: q["is_default"] for q in (await http.get(tenant_a.url("/queues"))).json()
    }
    assert defaults == {"a": False, "b": True, "c": True}
    jobs = await scheduled(tenant_a, JobKind.ROUTING_QUEUE)
    assert jobs.count(uuid.UUID(chat["id"])) == 2
    assert jobs.count(uuid.UUID(email["id"])) == 1
    assert jobs.count(uuid.UUID(both["id"])) == 1


async def test_queue_with_unfinished_work_is_neither_deleted_nor_renamed(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client()
    queue = await post(http, tenant_a.url("/queues"), {"name": "ventas", "channels": ["chat"]})
    theirs = await post(
        await tenant_b.client(), tenant_b.url("/queues"), {"name": "ventas", "channels": ["chat"]}
    )
    work = {"channel": "chat", "identity": {"kind": "chat", "value": "v-1"}, "queue": "ventas"}
    waiting = await post(http, tenant_a.url("/interactions"), work)
    await post(await tenant_b.client(), tenant_b.url("/interactions"), work)

    renamed = await http.patch(tenant_a.url(f"/queues/{queue['id']}"), json={"name": "otra"})
    refused = await http.delete(tenant_a.url(f"/queues/{queue['id']}"))
    await http.patch(tenant_a.url(f"/interactions/{waiting['id']}"), json={"state": "ended"})
    deleted = await http.delete(tenant_a.url(f"/queues/{queue['id']}"))

    for response in (renamed, refused):
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("/queue-holds-work")
    assert deleted.status_code == 204
    assert (await http.get(tenant_a.url(f"/queues/{queue['id']}"))).status_code == 404
    async with tenant_a.db.system_session() as session:
        jobs = select(Job.kind).where(Job.ref_id == uuid.UUID(queue["id"]))
        assert JobKind.ROUTING_QUEUE in (await session.execute(jobs)).scalars().all()
    still = await (await tenant_b.client()).get(tenant_b.url(f"/queues/{theirs['id']}"))
    assert still.status_code == 200


async def test_queue_another_overflows_into_is_not_deleted(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    backup = await post(http, tenant_a.url("/queues"), {"name": "backup", "channels": ["chat"]})
    await post(
        http,
        tenant_a.url("/queues"),
        {
            "name": "ventas",
            "channels": ["chat"],
            "overflow": [{"after_seconds": 60, "extra_queue_ids": [backup["id"]]}],
        },
    )

    response = await http.delete(tenant_a.url(f"/queues/{backup['id']}"))

    assert response.status_code == 409
    assert "ventas" in response.json()["detail"]


async def test_deleting_a_skill_drops_it_from_queues_and_agents(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    tarjetas = await skill(tenant_a, "tarjetas")
    agent_id = await member(tenant_a, Role.AGENT, "Ana")
    queue = await post(
        http,
        tenant_a.url("/queues"),
        {"name": "ventas", "channels": ["chat"], "skills": [{"skill_id": tarjetas}]},
    )
    profile = {**AGENT_PROFILE, "skills": [{"skill_id": tarjetas, "level": 3}]}
    await http.put(tenant_a.url(f"/agents/{agent_id}"), json=profile)

    deleted = await http.delete(tenant_a.url(f"/skills/{tarjetas}"))

    assert deleted.status_code == 204
    assert (await http.get(tenant_a.url(f"/queues/{queue['id']}"))).json()["skills"] == []
    assert (await http.get(tenant_a.url(f"/agents/{agent_id}"))).json()["skills"] == []
    assert (await scheduled(tenant_a, JobKind.ROUTING_QUEUE)).count(uuid.UUID(queue["id"])) == 2
    assert (await scheduled(tenant_a, JobKind.ROUTING_AGENT)).count(uuid.UUID(agent_id)) == 2


# --- agents ----------------------------------------------------------------------------------


async def test_agents_are_the_members_who_serve_with_default_profiles(
    tenant_a: TenantFixture,
) -> None:
    ana = await member(tenant_a, Role.AGENT, "Ana")
    berta = await member(tenant_a, Role.SUPERVISOR, "Berta")
    await member(tenant_a, Role.CLIENT_VIEWER, "Carla")
    await member(tenant_a, Role.ADMIN, "Diana")

    response = await (await tenant_a.client(Role.AGENT)).get(tenant_a.url("/agents"))

    assert [(a["user_id"], a["role"]) for a in response.json()] == [
        (ana, "agent"),
        (berta, "supervisor"),
    ]
    assert response.json()[0] == {
        "user_id": ana,
        "display_name": "Ana",
        "role": "agent",
        "presence": "offline",
        "presence_reason": None,
        "languages": [],
        "capacity": {"voice": 1, "chat": 3, "email": 5, "sms": 5, "task": 5},
        "load": {"voice": 0, "chat": 0, "email": 0, "sms": 0, "task": 0},
        "occupancy_cap": 0.85,
        "wrap_up_seconds": 60,
        "skills": [],
    }


async def test_put_sets_the_profile_and_skills_and_schedules_the_agent_reload(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)
    tarjetas = await skill(tenant_a, "tarjetas")
    seguros = await skill(tenant_a, "seguros")
    ana = await member(tenant_a, Role.AGENT, "Ana")
    first = {
        **AGENT_PROFILE,
        "skills": [{"skill_id": tarjetas, "level": 2}, {"skill_id": seguros, "level": 5}],
    }

    created = await http.put(tenant_a.url(f"/agents/{ana}"), json=first)
    replaced = await http.put(
        tenant_a.url(f"/agents/{ana}"),
        json={**first, "skills": [{"skill_id": tarjetas, "level": 4}]},
    )
    repeated = await http.put(
        tenant_a.url(f"/agents/{ana}"),
        json={**first, "skills": [{"skill_id": tarjetas, "level": 4}]},
    )

    assert created.status_code == 200, created.text
    assert created.json()["languages"] == ["es", "en"]
    assert created.json()["capacity"] == AGENT_PROFILE["capacity"]
    assert (created.json()["occupancy_cap"], created.json()["wrap_up_seconds"]) == (0.9, 45)
    assert [s["name"] for s in created.json()["skills"]] == ["seguros", "tarjetas"]
    assert replaced.json()["skills"] == [{"skill_id": tarjetas, "name": "tarjetas", "level": 4}]
    assert repeated.json() == replaced.json()
    assert (await http.get(tenant_a.url(f"/agents/{ana}"))).json() == replaced.json()
    # The repeated PUT changed nothing, so it neither reloads nor audits.
    assert await scheduled(tenant_a, JobKind.ROUTING_AGENT) == [uuid.UUID(ana)] * 2
    audit = (await (await tenant_a.client()).get(tenant_a.url("/audit"))).json()["items"]
    assert [e["action"] for e in audit if e["entity_id"] == ana].count("agent.configured") == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": {**AGENT_PROFILE["capacity"], "chat": -1}}, "body.capacity.chat"),
        ({"capacity": {**AGENT_PROFILE["capacity"], "voice": 2}}, "body.capacity.voice"),
        ({"occupancy_cap": 0}, "body.occupancy_cap"),
        ({"wrap_up_seconds": 3601}, "body.wrap_up_seconds"),
        ({"languages": ["spanish"]}, "body.languages.0"),
        ({"skills": [{"skill_id": str(uuid.uuid4()), "level": 1}]}, "body.skills.0.skill_id"),
    ],
)
async def test_invalid_agent_profile_is_a_problem_and_changes_nothing(
    tenant_a: TenantFixture, change: dict[str, Any], field: str
) -> None:
    http = await tenant_a.client()
    ana = await member(tenant_a, Role.AGENT, "Ana")
    before = (await http.get(tenant_a.url(f"/agents/{ana}"))).json()

    response = await http.put(tenant_a.url(f"/agents/{ana}"), json={**AGENT_PROFILE, **change})

    assert fields_of(response) == [field]
    assert (await http.get(tenant_a.url(f"/agents/{ana}"))).json() == before
    assert await scheduled(tenant_a, JobKind.ROUTING_AGENT) == []


async def test_only_agents_serving_the_tenant_are_found(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client()
    viewer = await member(tenant_a, Role.CLIENT_VIEWER, "Carla")
    theirs = await member(tenant_b, Role.AGENT, "Elena")
    their_skill = await skill(tenant_b, "tarjetas")
    ana = await member(tenant_a, Role.AGENT, "Ana")

    for user_id in (viewer, theirs, str(uuid.uuid4())):
        assert (await http.get(tenant_a.url(f"/agents/{user_id}"))).status_code == 404
        put = await http.put(tenant_a.url(f"/agents/{user_id}"), json=AGENT_PROFILE)
        assert put.status_code == 404
    foreign_skill = {**AGENT_PROFILE, "skills": [{"skill_id": their_skill, "level": 3}]}
    response = await http.put(tenant_a.url(f"/agents/{ana}"), json=foreign_skill)
    assert fields_of(response) == ["body.skills.0.skill_id"]


async def test_capacity_below_the_work_held_is_refused(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()
    ana = await member(tenant_a, Role.AGENT, "Ana")
    await http.put(tenant_a.url(f"/agents/{ana}"), json=AGENT_PROFILE)
    async with tenant_a.db.system_session() as session:
        await session.execute(
            update(AgentProfile).where(AgentProfile.user_id == uuid.UUID(ana)).values(load_chat=2)
        )
        await session.commit()
    lowered = {**AGENT_PROFILE, "capacity": {**AGENT_PROFILE["capacity"], "chat": 1}}

    response = await http.put(
        tenant_a.url(f"/agents/{ana}"), json={**lowered, "wrap_up_seconds": 5}
    )

    assert response.status_code == 409
    assert response.json()["type"].endswith("/capacity-below-load")
    agent = (await http.get(tenant_a.url(f"/agents/{ana}"))).json()
    assert (agent["capacity"]["chat"], agent["load"]["chat"], agent["wrap_up_seconds"]) == (
        2,
        2,
        45,
    )


async def test_profile_is_shared_but_skills_belong_to_each_tenant(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    ana = await member(tenant_a, Role.AGENT, "Ana", email)
    assert await member(tenant_b, Role.SUPERVISOR, "Ana", email) == ana
    tarjetas = await skill(tenant_a, "tarjetas")
    profile = {**AGENT_PROFILE, "skills": [{"skill_id": tarjetas, "level": 3}]}

    await (await tenant_a.client()).put(tenant_a.url(f"/agents/{ana}"), json=profile)

    in_b = (await (await tenant_b.client()).get(tenant_b.url(f"/agents/{ana}"))).json()
    assert in_b["capacity"] == AGENT_PROFILE["capacity"]
    assert (in_b["role"], in_b["skills"]) == ("supervisor", [])


# --- business calendar -----------------------------------------------------------------------

WEEKDAYS_8_TO_20 = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
EVERY_DAY_8_TO_20 = {**WEEKDAYS_8_TO_20, "sat": [["08:00", "20:00"]], "sun": [["08:00", "20:00"]]}
MADRID_HOLIDAYS = tenant_holidays(Tenant(country="ES", subdivision="MD"))


def madrid(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(MADRID))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (madrid(2024, 12, 24, 8, 0), True),  # Tuesday, opening minute
        (madrid(2024, 12, 24, 19, 59), True),
        (madrid(2024, 12, 24, 20, 0), False),  # closing minute
        (madrid(2024, 12, 24, 21, 0), False),
        (madrid(2024, 12, 25, 10, 0), False),  # Christmas Day
        (madrid(2024, 5, 2, 10, 0), False),  # Fiesta de la Comunidad de Madrid
        (madrid(2024, 12, 28, 10, 0), False),  # Saturday
        (utc(2024, 12, 24, 7, 30), True),  # 08:30 in Madrid, though 07:30 in UTC
    ],
)
def test_is_open_follows_hours_weekdays_and_madrid_holidays(at: datetime, expected: bool) -> None:
    queue = Queue(business_hours=WEEKDAYS_8_TO_20)

    assert is_open(queue, MADRID, at, MADRID_HOLIDAYS) is expected


def test_regional_holidays_are_the_tenants_regions_only() -> None:
    queue = Queue(business_hours=WEEKDAYS_8_TO_20)
    catalonia = tenant_holidays(Tenant(country="ES", subdivision="CT"))

    assert is_open(queue, MADRID, madrid(2024, 5, 2, 10, 0), catalonia)
    assert not is_open(queue, MADRID, madrid(2024, 12, 26, 10, 0), catalonia)  # Sant Esteve


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2024, 3, 30, 6, 30), False),  # 07:30 CET
        (utc(2024, 3, 31, 6, 30), True),  # 08:30 CEST: the clocks went forward that night
        (utc(2024, 10, 26, 6, 30), True),  # 08:30 CEST
        (utc(2024, 10, 27, 6, 30), False),  # 07:30 CET: the clocks went back that night
        (utc(2024, 10, 27, 7, 0), True),  # 08:00 CET
    ],
)
def test_hours_are_local_wall_clock_across_daylight_saving_changes(
    at: datetime, expected: bool
) -> None:
    queue = Queue(business_hours=EVERY_DAY_8_TO_20)

    assert is_open(queue, MADRID, at, MADRID_HOLIDAYS) is expected


def test_queue_without_hours_is_always_open_even_on_holidays() -> None:
    queue = Queue(business_hours={})
    christmas = madrid(2024, 12, 25, 3, 0)

    assert is_open(queue, MADRID, christmas, MADRID_HOLIDAYS)
    assert next_opening(queue, MADRID, christmas, MADRID_HOLIDAYS) == christmas


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (madrid(2024, 12, 24, 10, 0), madrid(2024, 12, 24, 10, 0)),  # open now
        (madrid(2024, 12, 24, 6, 0), madrid(2024, 12, 24, 8, 0)),
        (madrid(2024, 12, 24, 21, 0), madrid(2024, 12, 26, 8, 0)),  # over Christmas Day
        (madrid(2024, 12, 27, 20, 0), madrid(2024, 12, 30, 8, 0)),  # over the weekend
        (madrid(2024, 3, 27, 21, 0), madrid(2024, 4, 1, 8, 0)),  # over Easter, into summer time
    ],
)
def test_next_opening(at: datetime, expected: datetime) -> None:
    queue = Queue(business_hours=WEEKDAYS_8_TO_20)

    assert next_opening(queue, MADRID, at, MADRID_HOLIDAYS) == expected


def test_next_opening_in_an_hour_the_clocks_skip_is_when_they_jump() -> None:
    queue = Queue(business_hours={"sun": [["02:30", "05:00"]]})
    # 01:00 UTC on 31 March 2024 is when 02:00 CET became 03:00 CEST in Madrid.
    jump = utc(2024, 3, 31, 1, 0)

    opening = next_opening(queue, MADRID, utc(2024, 3, 30, 12, 0), set[date]())

    assert opening == jump
    assert is_open(queue, MADRID, jump, set[date]())
    assert not is_open(queue, MADRID, utc(2024, 3, 31, 0, 59), set[date]())


def test_a_calendar_of_holidays_only_never_opens() -> None:
    class EveryDay:
        def __contains__(self, day: object) -> bool:
            return True

    queue = Queue(business_hours=WEEKDAYS_8_TO_20)

    assert next_opening(queue, MADRID, madrid(2024, 1, 1), EveryDay()) is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        is_open(Queue(business_hours={}), MADRID, datetime(2024, 1, 1), MADRID_HOLIDAYS)
