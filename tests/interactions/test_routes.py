import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from centralita.customers.models import Customer, CustomerIdentity
from centralita.events.models import EventRecord
from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction, Message
from centralita.jobs.models import Job, JobKind
from centralita.reporting.models import FactKind, InteractionFact
from tests.conftest import TenantFixture

CALL_FROM_LOCAL_NUMBER: dict[str, Any] = {
    "channel": "voice",
    "identity": {"kind": "phone", "value": "612 34 56 78"},
    "customer_name": "Lucía Núñez",
    "queue": "tarjetas",
    "subject": "Aumentar el límite de la tarjeta",
    "self_service_context": {"intent": "card_limit_increase", "verified": True},
}


async def _count(tenant: TenantFixture, column: Any) -> int:
    async with tenant.db.tenant_session(tenant.id) as session:
        return int((await session.execute(select(func.count(column)))).scalar_one())


async def _create(http: httpx.AsyncClient, tenant: TenantFixture, **fields: Any) -> dict[str, Any]:
    body = {"channel": "chat", "identity": {"kind": "email", "value": "ana@example.com"}, **fields}
    response = await http.post(tenant.url("/interactions"), json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_local_and_international_formats_of_one_phone_make_one_e164_customer(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.AGENT)

    first = await http.post(tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER)
    second = await http.post(
        tenant_a.url("/interactions"),
        json={"channel": "sms", "identity": {"kind": "phone", "value": "+34 612-345-678"}},
    )

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    created = first.json()
    assert created["state"] == "queued"
    assert created["queued_at"] is not None
    assert created["self_service_context"] == {"intent": "card_limit_increase", "verified": True}
    assert second.json()["customer_id"] == created["customer_id"]
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        phones = (await session.execute(select(CustomerIdentity.value))).scalars().all()
        names = (await session.execute(select(Customer.display_name))).scalars().all()
    assert phones == ["+34612345678"]
    assert names == ["Lucía Núñez"]
    assert await _count(tenant_b, Customer.id) == 0


async def test_new_work_is_counted_offered_and_handed_to_routing_webhooks_and_rules(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    http = await tenant_a.client(Role.AGENT)

    first = await http.post(tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER)
    again = await http.post(tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER)

    assert first.status_code == again.status_code == 201
    created = [first.json(), again.json()]
    ids = [uuid.UUID(c["id"]) for c in created]
    for shown in created:
        stored = await http.get(tenant_a.url(f"/interactions/{shown['id']}"))
        assert stored.json() == shown
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        facts = (await session.execute(select(InteractionFact))).scalars().all()
        events = (await session.execute(select(EventRecord))).scalars().all()
    assert sorted((f.interaction_id, f.kind, f.queue, f.channel) for f in facts) == [
        (i, FactKind.OFFERED, "tarjetas", "voice") for i in ids
    ]
    assert {f.customer_id for f in facts} == {uuid.UUID(created[0]["customer_id"])}
    assert sorted((e.type, e.data["interaction_id"]) for e in events) == [
        ("interaction.created", c["id"]) for c in sorted(created, key=lambda c: c["id"])
    ]
    event_ids = [e.id for e in events]
    async with tenant_a.db.system_session() as session:
        query = select(Job.kind, Job.ref_id).where(Job.ref_id.in_(ids + event_ids))
        jobs = sorted(tuple(row) for row in (await session.execute(query)).all())
    consumers = (JobKind.WEBHOOK_FANOUT, JobKind.AUTOMATION_EVENT)
    assert jobs == sorted(
        [(JobKind.ROUTING_WORK, i) for i in ids] + [(k, e) for e in event_ids for k in consumers]
    )
    assert await _count(tenant_b, InteractionFact.id) == 0


async def test_same_idempotency_key_and_body_make_one_interaction_and_the_same_answer(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    headers = {"Idempotency-Key": "call-CA1234"}

    first = await http.post(
        tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER, headers=headers
    )
    retry = await http.post(
        tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER, headers=headers
    )

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await _count(tenant_a, Interaction.id) == 1


async def test_same_idempotency_key_with_another_body_is_rejected(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    headers = {"Idempotency-Key": "form-77"}
    await http.post(tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER, headers=headers)

    changed = {**CALL_FROM_LOCAL_NUMBER, "subject": "Otra cosa"}
    response = await http.post(tenant_a.url("/interactions"), json=changed, headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/idempotency-key-reused")
    assert await _count(tenant_a, Interaction.id) == 1


async def test_concurrent_requests_with_one_key_make_one_interaction(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    headers = {"Idempotency-Key": "webhook-retry-1"}

    responses = await asyncio.gather(
        *(
            http.post(tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER, headers=headers)
            for _ in range(2)
        )
    )

    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
    assert await _count(tenant_a, Interaction.id) == 1
    assert await _count(tenant_a, Customer.id) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"identity": {"kind": "phone", "value": "12"}}, "body.identity.value"),
        ({"colour": "red"}, "body.colour"),
        ({"subject": "x" * 301}, "body.subject"),
        ({"channel": "pigeon"}, "body.channel"),
        ({"priority": 10}, "body.priority"),
        ({"state": "ended"}, "body.state"),
        ({"message": {"text": "x" * 20_001}}, "body.message.text"),
        ({"customer_id": str(uuid.uuid4())}, "body.customer_id"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    tenant_a: TenantFixture, change: dict[str, Any], field: str
) -> None:
    http = await tenant_a.client(Role.AGENT)

    response = await http.post(
        tenant_a.url("/interactions"), json={**CALL_FROM_LOCAL_NUMBER, **change}
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await _count(tenant_a, Interaction.id) == 0
    assert await _count(tenant_a, Customer.id) == 0


async def test_customer_is_named_by_id_or_identity_never_both(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    customer_id = (await _create(http, tenant_a))["customer_id"]

    by_id = await http.post(
        tenant_a.url("/interactions"), json={"channel": "email", "customer_id": customer_id}
    )
    both = await http.post(
        tenant_a.url("/interactions"),
        json={**CALL_FROM_LOCAL_NUMBER, "customer_id": customer_id},
    )
    neither = await http.post(tenant_a.url("/interactions"), json={"channel": "task"})

    assert by_id.status_code == 201
    assert by_id.json()["customer_id"] == customer_id
    assert both.status_code == neither.status_code == 422
    assert {e["field"] for e in both.json()["errors"]} == {"body.customer_id", "body.identity"}
    assert await _count(tenant_a, Interaction.id) == 2


async def test_another_tenants_customer_id_links_nothing(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    b_customer = (await _create(await tenant_b.client(Role.AGENT), tenant_b))["customer_id"]
    http = await tenant_a.client(Role.ADMIN)

    response = await http.post(
        tenant_a.url("/interactions"),
        json={"channel": "email", "customer_id": b_customer, "subject": "cross-tenant"},
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.customer_id"]
    assert await _count(tenant_a, Interaction.id) == 0
    assert await _count(tenant_b, Interaction.id) == 1


async def test_customer_html_is_sanitised_and_text_kept_as_sent(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    text = "Hola <script>alert(1)</script>"
    html = (
        '<p onclick="steal()">Hola<script>alert(1)</script>'
        '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">aquí</a>'
        '<a href="https://example.com/pedido">pedido</a><style>p{}</style></p>'
    )

    created = await _create(http, tenant_a, message={"text": text, "html": html})
    fetched = (await http.get(tenant_a.url(f"/interactions/{created['id']}"))).json()

    stored = fetched["messages"][0]
    assert stored == created["messages"][0]
    assert stored["text"] == text
    assert stored["author_kind"] == "customer"
    for dangerous in ("<script", "alert", "onerror", "onclick", "javascript:", "<img", "<style"):
        assert dangerous not in stored["html"]
    assert (
        '<a href="https://example.com/pedido" rel="noopener noreferrer nofollow">'
        in (stored["html"])
    )


async def test_messages_are_added_in_order_with_attachment_metadata(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    created = await _create(http, tenant_a, message={"text": "¿Dónde está mi pedido?"})
    attachment = {
        "name": "factura.pdf",
        "content_type": "application/pdf",
        "size": 48213,
        "url": "https://files.example.com/f/1",
    }

    reply = await http.post(
        tenant_a.url(f"/interactions/{created['id']}/messages"),
        json={"author_kind": "agent", "text": "Sale hoy.", "attachments": [attachment]},
    )
    bad = await http.post(
        tenant_a.url(f"/interactions/{created['id']}/messages"),
        json={"text": "x", "attachments": [{**attachment, "url": "file:///etc/passwd"}]},
    )
    fetched = (await http.get(tenant_a.url(f"/interactions/{created['id']}"))).json()

    assert reply.status_code == 201
    assert reply.json()["attachments"] == [attachment]
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.attachments.0.url"
    assert [m["text"] for m in fetched["messages"]] == ["¿Dónde está mi pedido?", "Sale hoy."]
    assert await _count(tenant_a, Message.id) == 2


async def test_state_moves_follow_the_transition_table_and_stamp_times(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    created = await _create(http, tenant_a)
    url = tenant_a.url(f"/interactions/{created['id']}")

    offered = await http.patch(url, json={"state": "offered"})
    answered = await http.patch(url, json={"state": "active"})
    wrap_up = await http.patch(url, json={"state": "wrap_up"})
    ended = await http.patch(url, json={"state": "ended", "disposition": "resolved"})
    reopened = await http.patch(url, json={"state": "active"})

    assert [r.status_code for r in (offered, answered, wrap_up, ended)] == [200] * 4
    final = ended.json()
    assert final["state"] == "ended"
    assert final["disposition"] == "resolved"
    assert (
        final["queued_at"]
        <= final["offered_at"]
        <= final["answered_at"]
        <= final["ended_at"]
        <= final["wrap_up_ended_at"]
    )
    assert reopened.status_code == 409
    assert reopened.json()["type"].endswith("/invalid-transition")
    assert (await http.get(url)).json()["state"] == "ended"


async def test_list_filters_and_pages_newest_first(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    ids = [(await _create(http, tenant_a, channel=c))["id"] for c in ("chat", "email", "chat")]
    await http.patch(tenant_a.url(f"/interactions/{ids[2]}"), json={"state": "abandoned"})

    first = (await http.get(tenant_a.url("/interactions"), params={"limit": 2})).json()
    rest = (
        await http.get(
            tenant_a.url("/interactions"), params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    chats = (await http.get(tenant_a.url("/interactions"), params={"channel": "chat"})).json()
    queued = (await http.get(tenant_a.url("/interactions"), params={"state": "queued"})).json()

    assert [i["id"] for i in first["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None
    assert [i["id"] for i in chats["items"]] == [ids[2], ids[0]]
    assert [i["id"] for i in queued["items"]] == [ids[1], ids[0]]


async def test_a_provider_id_is_accepted_once_per_channel(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    await _create(http, tenant_a, channel="voice", external_ref="CA42")

    again = await http.post(
        tenant_a.url("/interactions"),
        json={**CALL_FROM_LOCAL_NUMBER, "channel": "voice", "external_ref": "CA42"},
    )
    other_channel = await http.post(
        tenant_a.url("/interactions"),
        json={**CALL_FROM_LOCAL_NUMBER, "channel": "sms", "external_ref": "CA42"},
    )

    assert again.status_code == 409
    assert again.json()["type"].endswith("/interaction-exists")
    assert other_channel.status_code == 201
    assert await _count(tenant_a, Interaction.id) == 2


async def test_client_viewer_may_not_see_interactions(tenant_a: TenantFixture) -> None:
    viewer = await tenant_a.client(Role.CLIENT_VIEWER)

    listed = await viewer.get(tenant_a.url("/interactions"))
    created = await viewer.post(tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER)

    assert listed.status_code == created.status_code == 403
    assert await _count(tenant_a, Interaction.id) == 0


async def test_another_tenants_interaction_is_not_found_and_never_listed(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    b_interaction = (await _create(await tenant_b.client(Role.AGENT), tenant_b))["id"]
    http = await tenant_a.client(Role.ADMIN)
    url = tenant_a.url(f"/interactions/{b_interaction}")

    fetched = await http.get(url)
    patched = await http.patch(url, json={"state": "abandoned"})
    messaged = await http.post(f"{url}/messages", json={"text": "hola"})
    listed = await http.get(tenant_a.url("/interactions"))

    assert fetched.status_code == patched.status_code == messaged.status_code == 404
    assert listed.json()["items"] == []
    b_view = await (await tenant_b.client(Role.AGENT)).get(
        tenant_b.url(f"/interactions/{b_interaction}")
    )
    assert b_view.json()["state"] == "queued"
    assert len(b_view.json()["messages"]) == 0


async def test_simultaneous_first_contacts_from_one_new_number_make_one_customer(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)

    responses = await asyncio.gather(
        *(http.post(tenant_a.url("/interactions"), json=CALL_FROM_LOCAL_NUMBER) for _ in range(3))
    )

    assert [r.status_code for r in responses] == [201] * 3
    assert len({r.json()["customer_id"] for r in responses}) == 1
    assert await _count(tenant_a, Interaction.id) == 3
    assert await _count(tenant_a, Customer.id) == 1
