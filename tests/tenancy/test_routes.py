from centralita.identity.permissions import Role
from tests.conftest import TenantFixture


async def test_member_sees_own_tenant_and_only_it(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.AGENT)

    own = await http.get(tenant_a.url())
    listed = await http.get("/api/v1/tenants")

    assert own.status_code == 200
    assert own.json()["slug"] == tenant_a.slug
    assert [t["slug"] for t in listed.json()] == [tenant_a.slug]


async def test_admin_renames_tenant_and_the_change_is_audited(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)

    response = await http.patch(tenant_a.url(), json={"name": "Banco Renombrado"})
    audit = await http.get(tenant_a.url("/audit"))

    assert response.status_code == 200
    assert response.json()["name"] == "Banco Renombrado"
    entry = audit.json()["items"][0]
    assert entry["action"] == "tenant.updated"
    assert entry["before"] == {"name": "Tenant A"}
    assert entry["after"] == {"name": "Banco Renombrado"}
    assert entry["actor_label"] == "token:test-admin"


async def test_agent_may_not_change_tenant(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)

    response = await http.patch(tenant_a.url(), json={"name": "Hijacked"})

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert (await http.get(tenant_a.url())).json()["name"] == "Tenant A"


async def test_unknown_field_and_bad_zone_are_rejected_with_field_paths(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.ADMIN)

    response = await http.patch(tenant_a.url(), json={"time_zone": "Mars/Olympus", "colour": "red"})

    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"body.time_zone", "body.colour"}
    assert (await http.get(tenant_a.url())).json()["time_zone"] == "Europe/Madrid"


async def test_malformed_json_is_a_problem(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)

    response = await http.patch(
        tenant_a.url(), content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_platform_admins_create_tenants(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)

    response = await http.post("/api/v1/tenants", json={"slug": "intruder", "name": "Intruder"})

    assert response.status_code == 403


async def test_audit_log_pages_with_a_cursor(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)
    for n in range(5):
        await http.patch(tenant_a.url(), json={"name": f"Name {n}"})

    first = (await http.get(tenant_a.url("/audit"), params={"limit": 2})).json()
    second = (
        await http.get(tenant_a.url("/audit"), params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    broken = await http.get(tenant_a.url("/audit"), params={"cursor": "%%%"})

    assert [e["after"]["name"] for e in first["items"]] == ["Name 4", "Name 3"]
    assert [e["after"]["name"] for e in second["items"]] == ["Name 2", "Name 1"]
    assert broken.status_code == 422
