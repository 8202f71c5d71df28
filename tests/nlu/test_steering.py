from centralita.identity.permissions import Role
from centralita.nlu.service import set_intent_route, steer
from tests.conftest import TenantFixture


async def test_keywords_steer_a_request_to_its_intent_and_say_out_of_scope_otherwise(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await set_intent_route(
            session,
            tenant_a.id,
            "card_limit",
            queue="tarjetas",
            keywords=["límite", "tarjeta de crédito"],
        )
        await set_intent_route(
            session,
            tenant_a.id,
            "ticket_status",
            self_service="ticket_status",
            keywords=["estado", "incidencia"],
        )
        await session.commit()

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        card = await steer(
            session, tenant_a.id, "Quisiera aumentar el LIMITE de mi tarjeta de credito"
        )
        status = await steer(session, tenant_a.id, "¿Cuál es el estado de mi incidencia?")
        nothing = await steer(session, tenant_a.id, "Buenas tardes")
    async with tenant_b.db.tenant_session(tenant_b.id) as session:
        other_tenant = await steer(session, tenant_b.id, "el límite de mi tarjeta de crédito")

    assert card is not None
    assert (card.intent, card.queue) == ("card_limit", "tarjetas")
    assert card.confidence == 1.0
    assert status is not None
    assert status.self_service == "ticket_status"
    assert nothing is None
    assert other_tenant is None


async def test_an_intent_changed_through_the_api_steers_the_next_request(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    made = await http.post(
        tenant_a.url("/nlu/intents"),
        json={"intent": "card_limit", "queue": "tarjetas", "keywords": ["límite"]},
    )
    assert made.status_code == 201, made.text
    text = "Quisiera aumentar el límite de mi tarjeta"

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        before = await steer(session, tenant_a.id, text)
    changed = await http.patch(
        tenant_a.url(f"/nlu/intents/{made.json()['id']}"), json={"queue": "riesgos"}
    )
    assert changed.status_code == 200, changed.text
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        after = await steer(session, tenant_a.id, text)
    deleted = await http.delete(tenant_a.url(f"/nlu/intents/{made.json()['id']}"))
    assert deleted.status_code == 204
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        gone = await steer(session, tenant_a.id, text)

    assert before is not None
    assert before.queue == "tarjetas"
    assert after is not None
    assert after.queue == "riesgos"
    assert gone is None
