import uuid
from typing import Any

import httpx

from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.customers.schemas import PIN_MASK
from centralita.customers.service import IdentityRules, normalise_identity
from centralita.identity.permissions import Role
from tests.conftest import TenantFixture

PHONE = {"kind": "phone", "value": "+34 612 345 678"}


async def _create(http: httpx.AsyncClient, tenant: TenantFixture, **fields: Any) -> dict[str, Any]:
    response = await http.post(tenant.url("/interactions"), json={"identity": PHONE, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _add_identities(tenant: TenantFixture, customer_id: str) -> None:
    rules = IdentityRules.for_tenant(tenant.tenant, "test-secret")
    async with tenant.db.tenant_session(tenant.id) as session:
        for kind, raw in ((IdentityKind.EMAIL, "Lucia@Example.com"), (IdentityKind.PIN, "4321")):
            session.add(
                CustomerIdentity(
                    customer_id=uuid.UUID(customer_id),
                    kind=kind,
                    value=normalise_identity(kind, raw, rules),
                )
            )
        await session.commit()


async def test_360_shows_profile_identities_and_history_across_channels_newest_first(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.AGENT)
    channels = ["voice", "chat", "email", "sms", "callback"]
    created = [
        await _create(http, tenant_a, channel=c, subject=f"{c} contact", customer_name="Lucía")
        for c in channels
    ]
    customer_id = created[0]["customer_id"]
    await _add_identities(tenant_a, customer_id)
    await http.patch(tenant_a.url(f"/interactions/{created[0]['id']}"), json={"state": "abandoned"})
    await _create(await tenant_b.client(Role.AGENT), tenant_b, channel="web")
    url = tenant_a.url(f"/customers/{customer_id}/360")

    pages = [(await http.get(url, params={"limit": 2})).json()]
    while pages[-1]["timeline"]["next_cursor"]:
        cursor = pages[-1]["timeline"]["next_cursor"]
        pages.append((await http.get(url, params={"limit": 2, "cursor": cursor})).json())

    view = pages[0]
    assert view["customer"]["id"] == customer_id
    assert view["customer"]["display_name"] == "Lucía"
    assert sorted((i["kind"], i["value"]) for i in view["identities"]) == [
        ("email", "lucia@example.com"),
        ("phone", "+34612345678"),
        ("pin", PIN_MASK),
    ]
    items = [item for page in pages for item in page["timeline"]["items"]]
    assert len(pages) == 3
    assert [i["id"] for i in items] == [c["id"] for c in reversed(created)]
    assert [i["channel"] for i in items] == channels[::-1]
    assert {i["kind"] for i in items} == {"interaction"}
    oldest = items[-1]
    assert oldest["state"] == "abandoned"
    assert oldest["closed_at"] is not None
    assert oldest["subject"] == "voice contact"


async def test_another_tenants_customer_is_not_found(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    b_customer = (await _create(await tenant_b.client(Role.AGENT), tenant_b, channel="chat"))[
        "customer_id"
    ]
    http = await tenant_a.client(Role.ADMIN)

    response = await http.get(tenant_a.url(f"/customers/{b_customer}/360"))
    unknown = await http.get(tenant_a.url(f"/customers/{uuid.uuid4()}/360"))

    assert response.status_code == unknown.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == unknown.json()["detail"]


async def test_bad_cursor_is_a_problem_and_viewers_may_not_see_customers(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    customer_id = (await _create(http, tenant_a, channel="email"))["customer_id"]
    url = tenant_a.url(f"/customers/{customer_id}/360")

    bad_cursor = await http.get(url, params={"cursor": "not-a-cursor"})
    viewer = await (await tenant_a.client(Role.CLIENT_VIEWER)).get(url)

    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "query.cursor"
    assert viewer.status_code == 403
