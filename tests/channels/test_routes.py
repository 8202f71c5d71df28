from centralita.identity.permissions import Role
from tests.conftest import TenantFixture


async def test_an_admin_registers_addresses_in_their_stored_form(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)

    mailbox = await http.post(
        tenant_a.url("/channel-addresses"),
        json={"channel": "email", "address": " Ayuda@Banco.Example ", "queue": "general"},
    )
    phone = await http.post(
        tenant_a.url("/channel-addresses"), json={"channel": "voice", "address": "91 123 45 67"}
    )
    widget = await http.post(tenant_a.url("/channel-addresses"), json={"channel": "chat"})

    assert mailbox.status_code == 201, mailbox.text
    assert mailbox.json()["address"] == "ayuda@banco.example"
    assert phone.json()["address"] == "+34911234567"
    assert len(widget.json()["address"]) >= 16
    listed = await http.get(tenant_a.url("/channel-addresses"))
    assert {a["channel"] for a in listed.json()} == {"email", "voice", "chat"}


async def test_an_address_belongs_to_one_tenant_only(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    body = {"channel": "sms", "address": "+34 600 000 001"}
    taken = await (await tenant_a.client()).post(tenant_a.url("/channel-addresses"), json=body)
    again = await (await tenant_b.client()).post(tenant_b.url("/channel-addresses"), json=body)

    assert taken.status_code == 201
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    listed = await (await tenant_b.client()).get(tenant_b.url("/channel-addresses"))
    assert listed.json() == []


async def test_bad_addresses_are_refused_by_field_and_agents_cannot_manage_them(
    tenant_a: TenantFixture,
) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    no_phone = await admin.post(
        tenant_a.url("/channel-addresses"), json={"channel": "voice", "address": "call me"}
    )
    no_address = await admin.post(tenant_a.url("/channel-addresses"), json={"channel": "email"})
    agent = await (await tenant_a.client(Role.AGENT)).post(
        tenant_a.url("/channel-addresses"), json={"channel": "chat"}
    )

    assert no_phone.status_code == 422
    assert no_phone.json()["errors"][0]["field"] == "body.address"
    assert no_address.status_code == 422
    assert agent.status_code == 403
    assert (await admin.get(tenant_a.url("/channel-addresses"))).json() == []
