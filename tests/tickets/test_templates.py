"""Incident models: prefilled tickets, checklists, and reply macros rendered per locale."""

from typing import Any

from centralita.identity.permissions import Role
from tests.conftest import TenantFixture, TenantMaker
from tests.tickets import fields_of, make_customer, make_staff, make_ticket, post_ok, signed_in

MACRO = {
    "name": "Tarjeta bloqueada",
    "body": {
        "es": "Hola {{customer.preferred_name}}, su caso {{ticket.number}} ({{ticket.subject}}) "
        "está en marcha. {{agent.display_name}} · {{ customer.display_name }} {{ticket.secret}} "
        "{{customer.__class__}} {% raw %}{{7*7}}",
        "en": "Hi {{customer.preferred_name}}, case {{ticket.number}} is being handled.",
    },
}


async def _template(tenant: TenantFixture, **fields: Any) -> dict[str, Any]:
    admin = await tenant.client(Role.ADMIN)
    body = {"name": "Bloqueo", **fields}
    template: dict[str, Any] = await post_ok(admin, tenant.url("/ticket-templates"), body)
    return template


async def test_a_template_prefills_the_ticket_and_adds_its_checklist(
    tenant_a: TenantFixture,
) -> None:
    admin = await tenant_a.client(Role.ADMIN)
    category = await post_ok(admin, tenant_a.url("/ticket-categories"), {"name": "Tarjetas"})
    await post_ok(
        admin,
        tenant_a.url("/ticket-fields"),
        {"key": "card", "kind": "choice", "choices": ["visa", "amex"]},
    )
    template = await _template(
        tenant_a,
        type="service_request",
        category_id=category["id"],
        impact="high",
        urgency="high",
        subject={"es": "Tarjeta bloqueada", "en": "Card blocked"},
        custom_fields={"card": "visa"},
        checklist=["Verificar identidad", "Bloquear tarjeta"],
        macros=[MACRO],
    )
    bad_template = await admin.post(
        tenant_a.url("/ticket-templates"),
        json={"name": "Malo", "custom_fields": {"card": "discover"}},
    )
    english = await make_customer(tenant_a, "John Smith", language="en")

    ticket = await make_ticket(
        tenant_a,
        english,
        subject=None,
        template_id=template["id"],
        urgency="low",
        custom_fields={},
    )
    thread = await (await tenant_a.client(Role.AGENT)).get(
        tenant_a.url(f"/tickets/{ticket['id']}/messages")
    )

    assert fields_of(bad_template) == ["body.custom_fields.card"]
    assert ticket["subject"] == "Card blocked"
    assert ticket["type"] == "service_request"
    assert ticket["category_id"] == category["id"]
    assert (ticket["impact"], ticket["urgency"], ticket["priority"]) == ("high", "low", "P3")
    assert ticket["custom_fields"] == {"card": "visa"}
    (checklist,) = thread.json()
    assert checklist["kind"] == "internal"
    assert checklist["text"] == "Lista de comprobación:\n- Verificar identidad\n- Bloquear tarjeta"


async def test_a_macro_renders_known_placeholders_only_in_the_requesters_language(
    make_tenant: TenantMaker,
) -> None:
    tenant = await make_tenant(default_locale="en")
    agent = await make_staff(tenant, Role.AGENT, "Marta Ruiz")
    template = await _template(tenant, macros=[MACRO])
    spanish = await make_customer(tenant, "Lucía Núñez", preferred_name="Lucía", language="es")
    german = await make_customer(tenant, "Hans Müller", language="de")
    ticket = await make_ticket(tenant, spanish, subject="Tarjeta")
    other = await make_ticket(tenant, german, subject="Karte")
    body = {"template_id": template["id"], "index": 0}

    async with signed_in(tenant, agent) as http:
        in_spanish = await post_ok(
            http, tenant.url(f"/tickets/{ticket['id']}/macros/render"), body, status=200
        )
        asked_english = await post_ok(
            http,
            tenant.url(f"/tickets/{ticket['id']}/macros/render"),
            {**body, "locale": "en"},
            status=200,
        )
        fallback = await post_ok(
            http, tenant.url(f"/tickets/{other['id']}/macros/render"), body, status=200
        )
        missing = await http.post(
            tenant.url(f"/tickets/{ticket['id']}/macros/render"), json={**body, "index": 3}
        )

    assert in_spanish["locale"] == "es"
    assert in_spanish["text"] == (
        f"Hola Lucía, su caso {ticket['reference']} (Tarjeta) está en marcha. Marta Ruiz · "
        "Lucía Núñez {{ticket.secret}} {{customer.__class__}} {% raw %}{{7*7}}"
    )
    assert asked_english["text"] == f"Hi Lucía, case {ticket['reference']} is being handled."
    assert fallback["locale"] == "en"
    assert fallback["text"] == f"Hi Hans Müller, case {other['reference']} is being handled."
    assert fields_of(missing) == ["body.index"]


async def test_templates_are_managed_by_supervisors(tenant_a: TenantFixture) -> None:
    agent = await tenant_a.client(Role.AGENT)
    supervisor = await tenant_a.client(Role.SUPERVISOR)

    refused = await agent.post(tenant_a.url("/ticket-templates"), json={"name": "X"})
    created = await post_ok(supervisor, tenant_a.url("/ticket-templates"), {"name": "X"})
    renamed = await supervisor.patch(
        tenant_a.url(f"/ticket-templates/{created['id']}"), json={"name": "Y", "macros": [MACRO]}
    )
    listed = await agent.get(tenant_a.url("/ticket-templates"))
    deleted = await supervisor.delete(tenant_a.url(f"/ticket-templates/{created['id']}"))

    assert refused.status_code == 403
    assert renamed.json()["name"] == "Y"
    assert renamed.json()["macros"] == [MACRO]
    assert [t["name"] for t in listed.json()] == ["Y"]
    assert deleted.status_code == 204
    assert (await agent.get(tenant_a.url("/ticket-templates"))).json() == []
