import uuid
from typing import Any

import httpx
import pytest

from centralita.identity.permissions import Role
from tests.conftest import TenantFixture


async def post_customer(
    http: httpx.AsyncClient, tenant: TenantFixture, name: str, *identities: tuple[str, str]
) -> dict[str, Any]:
    response = await http.post(
        tenant.url("/customers"),
        json={"display_name": name, "identities": [{"kind": k, "value": v} for k, v in identities]},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def total(http: httpx.AsyncClient, tenant: TenantFixture) -> int:
    return len((await http.get(tenant.url("/customers"), params={"limit": 200})).json()["items"])


async def test_agent_creates_a_customer_with_normalised_identities(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)

    response = await http.post(
        tenant_a.url("/customers"),
        json={
            "display_name": "Lucía Fernández",
            "language": "es",
            "time_zone": "Europe/Madrid",
            "value_tier": "gold",
            "preferred_channel": "chat",
            "consent_email": True,
            "attributes": {"iban_last4": "1234", "branch": 12},
            "tags": ["vip", "vip", "hipoteca"],
            "identities": [
                {"kind": "phone", "value": "600 12 34 56"},
                {"kind": "email", "value": "  Lucia@Example.COM "},
                {"kind": "pin", "value": "2468"},
            ],
        },
    )

    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["tags"] == ["vip", "hipoteca"]
    assert customer["value_tier"] == "gold"
    assert {(i["kind"], i["value"]) for i in customer["identities"]} == {
        ("phone", "+34600123456"),
        ("email", "lucia@example.com"),
        ("pin", "••••"),
    }
    fetched = await http.get(tenant_a.url(f"/customers/{customer['id']}/identities"))
    assert {i["value"] for i in fetched.json()} == {"+34600123456", "lucia@example.com", "••••"}


@pytest.mark.parametrize("typed", ["+34 600 12 34 56", "600123456", "0034600123456"])
async def test_phone_typed_in_any_common_format_finds_the_one_customer(
    tenant_a: TenantFixture, typed: str
) -> None:
    http = await tenant_a.client(Role.AGENT)
    lucia = await post_customer(http, tenant_a, "Lucía", ("phone", "+34600123456"))
    await post_customer(http, tenant_a, "Otra", ("phone", "+34600123457"))

    response = await http.get(tenant_a.url("/customers"), params={"q": typed})

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["items"]] == [lucia["id"]]


async def test_email_search_is_normalised(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    ana = await post_customer(http, tenant_a, "Ana", ("email", "ana.gil@example.com"))

    response = await http.get(tenant_a.url("/customers"), params={"q": "Ana.Gil@EXAMPLE.com"})

    assert [c["id"] for c in response.json()["items"]] == [ana["id"]]


async def test_name_search_ignores_accents_and_never_shows_another_tenant(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http_a = await tenant_a.client(Role.AGENT)
    http_b = await tenant_b.client(Role.AGENT)
    mine = await post_customer(http_a, tenant_a, "Íñigo Martínez")
    await post_customer(http_b, tenant_b, "Iñigo Martinez")

    response = await http_a.get(tenant_a.url("/customers"), params={"q": "inigo MARTINEZ"})
    everyone = await http_a.get(tenant_a.url("/customers"))

    assert [c["id"] for c in response.json()["items"]] == [mine["id"]]
    assert [c["id"] for c in everyone.json()["items"]] == [mine["id"]]


async def test_list_pages_with_a_cursor(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    for n in range(3):
        await post_customer(http, tenant_a, f"Cliente {n}")

    first = (await http.get(tenant_a.url("/customers"), params={"limit": 2})).json()
    second = (
        await http.get(
            tenant_a.url("/customers"), params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    broken = await http.get(tenant_a.url("/customers"), params={"cursor": "not-a-cursor"})

    assert [c["display_name"] for c in first["items"] + second["items"]] == [
        "Cliente 0",
        "Cliente 1",
        "Cliente 2",
    ]
    assert second["next_cursor"] is None
    assert broken.status_code == 422


@pytest.mark.parametrize(
    ("identity", "field"),
    [
        ({"kind": "email", "value": "not-an-email"}, "body.identities.1.value"),
        ({"kind": "phone", "value": "12345"}, "body.identities.1.value"),
        ({"kind": "pin", "value": "12ab"}, "body.identities.1.value"),
        ({"kind": "fax", "value": "1"}, "body.identities.1.kind"),
    ],
)
async def test_invalid_identity_is_a_422_on_its_field_and_writes_nothing(
    tenant_a: TenantFixture, identity: dict[str, str], field: str
) -> None:
    http = await tenant_a.client(Role.AGENT)

    response = await http.post(
        tenant_a.url("/customers"),
        json={
            "display_name": "Nadie",
            "identities": [{"kind": "email", "value": "good@example.com"}, identity],
        },
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await total(http, tenant_a) == 0


async def test_bad_profile_fields_are_422_with_field_paths(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)

    response = await http.post(
        tenant_a.url("/customers"),
        json={
            "display_name": "x" * 201,
            "time_zone": "Mars/Olympus",
            "lifetime_value": -1,
            "preferred_channel": "pigeon",
            "tenant_id": str(uuid.uuid4()),
        },
    )

    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "body.display_name",
        "body.time_zone",
        "body.lifetime_value",
        "body.preferred_channel",
        "body.tenant_id",
    }
    assert await total(http, tenant_a) == 0


async def test_identity_of_another_customer_is_a_409_naming_it_and_writes_nothing(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    holder = await post_customer(http, tenant_a, "Titular", ("phone", "+34600123456"))

    created = await http.post(
        tenant_a.url("/customers"),
        json={
            "display_name": "Duplicado",
            "identities": [{"kind": "phone", "value": "600 123 456"}],
        },
    )
    other = await post_customer(http, tenant_a, "Otro")
    added = await http.post(
        tenant_a.url(f"/customers/{other['id']}/identities"),
        json={"kind": "phone", "value": "+34 600 12 34 56"},
    )

    assert created.status_code == 409
    assert holder["id"] in created.json()["detail"]
    assert added.status_code == 409
    assert await total(http, tenant_a) == 2
    identities = await http.get(tenant_a.url(f"/customers/{other['id']}/identities"))
    assert identities.json() == []


async def test_same_identity_in_two_tenants_is_two_customers(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http_a = await tenant_a.client(Role.AGENT)
    http_b = await tenant_b.client(Role.AGENT)

    in_a = await post_customer(http_a, tenant_a, "A", ("email", "shared@example.com"))
    in_b = await post_customer(http_b, tenant_b, "B", ("email", "shared@example.com"))

    assert in_a["id"] != in_b["id"]


async def test_update_is_audited_with_before_and_after(tenant_a: TenantFixture) -> None:
    agent = await tenant_a.client(Role.AGENT)
    admin = await tenant_a.client(Role.ADMIN)
    customer = await post_customer(agent, tenant_a, "Maria")

    response = await agent.patch(
        tenant_a.url(f"/customers/{customer['id']}"),
        json={"display_name": "María Gómez", "value_tier": "platinum", "preferred_name": None},
    )
    audit = await admin.get(tenant_a.url("/audit"))
    found = await agent.get(tenant_a.url("/customers"), params={"q": "gomez"})

    assert response.status_code == 200
    assert response.json()["display_name"] == "María Gómez"
    entry = audit.json()["items"][0]
    assert entry["action"] == "customer.updated"
    assert entry["entity_id"] == customer["id"]
    assert entry["before"] == {"display_name": "Maria", "value_tier": "standard"}
    assert entry["after"] == {"display_name": "María Gómez", "value_tier": "platinum"}
    assert entry["actor_label"] == "token:test-agent"
    assert [c["id"] for c in found.json()["items"]] == [customer["id"]]


async def test_update_refuses_null_for_a_required_field(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    customer = await post_customer(http, tenant_a, "Maria")

    response = await http.patch(
        tenant_a.url(f"/customers/{customer['id']}"), json={"display_name": None}
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.display_name"]
    fetched = await http.get(tenant_a.url(f"/customers/{customer['id']}"))
    assert fetched.json()["display_name"] == "Maria"


async def test_identities_are_added_and_removed_with_an_audit_trail(
    tenant_a: TenantFixture,
) -> None:
    agent = await tenant_a.client(Role.AGENT)
    admin = await tenant_a.client(Role.ADMIN)
    customer = await post_customer(agent, tenant_a, "Carlos")
    url = tenant_a.url(f"/customers/{customer['id']}/identities")

    added = await agent.post(url, json={"kind": "pin", "value": "9876"})
    removed = await agent.delete(f"{url}/{added.json()['id']}")
    audit = (await admin.get(tenant_a.url("/audit"))).json()["items"]

    assert added.status_code == 201
    assert added.json()["value"] == "••••"
    assert removed.status_code == 204
    assert (await agent.get(url)).json() == []
    assert [e["action"] for e in audit[:2]] == [
        "customer.identity_removed",
        "customer.identity_added",
    ]
    assert audit[0]["before"] == {"kind": "pin", "value": "••••"}


async def test_merge_moves_identities_marks_source_and_is_audited(
    tenant_a: TenantFixture,
) -> None:
    supervisor = await tenant_a.client(Role.SUPERVISOR)
    admin = await tenant_a.client(Role.ADMIN)
    survivor = await post_customer(supervisor, tenant_a, "Pedro", ("phone", "600111111"))
    source = await post_customer(supervisor, tenant_a, "Pedro R", ("email", "pedro@example.com"))

    response = await supervisor.post(
        tenant_a.url(f"/customers/{survivor['id']}/merge"), json={"source_id": source["id"]}
    )
    left = await supervisor.get(tenant_a.url(f"/customers/{source['id']}"))
    by_email = await supervisor.get(tenant_a.url("/customers"), params={"q": "pedro@example.com"})
    entry = (await admin.get(tenant_a.url("/audit"))).json()["items"][0]

    assert response.status_code == 200, response.text
    assert {i["kind"] for i in response.json()["identities"]} == {"phone", "email"}
    assert left.status_code == 200
    assert left.json()["merged_into_id"] == survivor["id"]
    assert [c["id"] for c in by_email.json()["items"]] == [survivor["id"]]
    assert entry["action"] == "customer.merged"
    assert entry["entity_id"] == survivor["id"]
    assert entry["before"]["source_id"] == source["id"]
    assert entry["after"]["moved"] == {"customer_identities": 1}


async def test_merge_refuses_self_and_already_merged_and_needs_permission(
    tenant_a: TenantFixture,
) -> None:
    agent = await tenant_a.client(Role.AGENT)
    supervisor = await tenant_a.client(Role.SUPERVISOR)
    one = await post_customer(supervisor, tenant_a, "One")
    two = await post_customer(supervisor, tenant_a, "Two")

    by_agent = await agent.post(
        tenant_a.url(f"/customers/{one['id']}/merge"), json={"source_id": two["id"]}
    )
    into_itself = await supervisor.post(
        tenant_a.url(f"/customers/{one['id']}/merge"), json={"source_id": one["id"]}
    )
    await supervisor.post(
        tenant_a.url(f"/customers/{one['id']}/merge"), json={"source_id": two["id"]}
    )
    twice = await supervisor.post(
        tenant_a.url(f"/customers/{one['id']}/merge"), json={"source_id": two["id"]}
    )
    into_merged = await supervisor.post(
        tenant_a.url(f"/customers/{two['id']}/merge"), json={"source_id": one["id"]}
    )

    assert by_agent.status_code == 403
    assert into_itself.status_code == 422
    assert [e["field"] for e in into_itself.json()["errors"]] == ["body.source_id"]
    assert twice.status_code == 409
    assert into_merged.status_code == 409


async def test_another_tenants_customer_answers_404(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http_a = await tenant_a.client(Role.ADMIN)
    http_b = await tenant_b.client(Role.ADMIN)
    theirs = await post_customer(http_b, tenant_b, "Ajeno", ("chat", "visitor-1"))
    base = tenant_a.url(f"/customers/{theirs['id']}")
    identity_id = theirs["identities"][0]["id"]

    responses = [
        await http_a.get(base),
        await http_a.patch(base, json={"display_name": "Hijacked"}),
        await http_a.get(f"{base}/identities"),
        await http_a.post(f"{base}/identities", json={"kind": "crm", "value": "X-1"}),
        await http_a.delete(f"{base}/identities/{identity_id}"),
        await http_a.post(f"{base}/merge", json={"source_id": str(uuid.uuid4())}),
    ]

    assert [r.status_code for r in responses] == [404] * 6
    unchanged = (await http_b.get(tenant_b.url(f"/customers/{theirs['id']}"))).json()
    assert unchanged["display_name"] == "Ajeno"
    assert len(unchanged["identities"]) == 1


async def test_a_body_naming_another_tenants_customer_links_nothing(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http_a = await tenant_a.client(Role.ADMIN)
    http_b = await tenant_b.client(Role.ADMIN)
    mine = await post_customer(http_a, tenant_a, "Mío")
    theirs = await post_customer(http_b, tenant_b, "Ajeno", ("email", "ajeno@example.com"))

    merged = await http_a.post(
        tenant_a.url(f"/customers/{mine['id']}/merge"), json={"source_id": theirs["id"]}
    )

    assert merged.status_code == 422
    assert [e["field"] for e in merged.json()["errors"]] == ["body.source_id"]
    after_b = (await http_b.get(tenant_b.url(f"/customers/{theirs['id']}"))).json()
    assert after_b["merged_into_id"] is None
    assert [i["value"] for i in after_b["identities"]] == ["ajeno@example.com"]
    after_a = (await http_a.get(tenant_a.url(f"/customers/{mine['id']}/identities"))).json()
    assert after_a == []


async def test_client_viewer_cannot_read_customers(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.CLIENT_VIEWER)

    response = await http.get(tenant_a.url("/customers"))

    assert response.status_code == 403
