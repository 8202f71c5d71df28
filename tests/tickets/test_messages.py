"""Replies, notes and customer messages: first response, reopening, follow-ups, routable work."""

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction
from centralita.tickets.models import Ticket
from tests.conftest import TenantFixture
from tests.tickets import fetch, make_staff, make_ticket, post_ok, signed_in


async def _open_work(tenant: TenantFixture, ticket_id: str) -> list[Interaction]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(Interaction).where(
            Interaction.ticket_id == uuid.UUID(ticket_id),
            Interaction.state.in_(("queued", "offered", "active")),
        )
        return list((await session.execute(query)).scalars())


async def _end_work(tenant: TenantFixture, ticket_id: str) -> None:
    async with tenant.db.tenant_session(tenant.id) as session:
        await session.execute(
            update(Interaction)
            .where(Interaction.ticket_id == uuid.UUID(ticket_id))
            .values(state="ended")
        )
        await session.commit()


async def _resolved_days_ago(tenant: TenantFixture, ticket_id: str, days: int) -> None:
    async with tenant.db.tenant_session(tenant.id) as session:
        ticket = (
            await session.execute(select(Ticket).where(Ticket.id == uuid.UUID(ticket_id)))
        ).scalar_one()
        assert ticket.resolved_at is not None
        ticket.resolved_at -= timedelta(days=days)
        await session.commit()


async def test_the_first_public_reply_is_the_first_response_and_html_is_sanitised(
    tenant_a: TenantFixture,
) -> None:
    agent = await make_staff(tenant_a)
    ticket = await make_ticket(tenant_a)
    url = tenant_a.url(f"/tickets/{ticket['id']}")

    async with signed_in(tenant_a, agent) as http:
        note = await post_ok(http, f"{url}/messages", {"kind": "internal", "text": "Revisar"})
        after_note = await fetch(tenant_a, ticket["id"])
        reply = await post_ok(
            http,
            f"{url}/messages",
            {
                "kind": "public",
                "text": "Ya está",
                "html": '<p onclick="x()">Ya <b>está</b><script>alert(1)</script>'
                '<img src="https://t.example/p.gif"></p>',
            },
        )
        second = await post_ok(http, f"{url}/messages", {"kind": "public", "text": "Algo más"})
        system = await http.post(f"{url}/messages", json={"kind": "system", "text": "x"})
    replied = await fetch(tenant_a, ticket["id"])
    thread = await (await tenant_a.client(Role.AGENT)).get(f"{url}/messages")

    assert note["author_user_id"] == str(agent.id)
    assert after_note["first_responded_at"] is None
    assert after_note["status"] == "new"
    assert reply["html"] == "<p>Ya <b>está</b></p>"
    assert replied["first_responded_at"] == reply["created_at"]
    assert replied["status"] == "open"
    assert second["created_at"] > replied["first_responded_at"]
    assert system.status_code == 422
    assert [m["kind"] for m in thread.json()] == ["internal", "public", "public"]


async def test_a_customer_message_reopens_within_the_window_and_queues_one_work_item(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    ticket = await make_ticket(tenant_a, channel="email")
    url = tenant_a.url(f"/tickets/{ticket['id']}")
    await http.patch(url, json={"status": "open"})

    await post_ok(http, f"{url}/messages", {"kind": "customer", "text": "¿Alguna novedad?"})
    still_one = await _open_work(tenant_a, ticket["id"])
    await _end_work(tenant_a, ticket["id"])
    await http.patch(url, json={"status": "resolved"})
    await _resolved_days_ago(tenant_a, ticket["id"], 6)
    reopening = await post_ok(http, f"{url}/messages", {"kind": "customer", "text": "Sigue mal"})
    reopened = await fetch(tenant_a, ticket["id"])
    new_work = await _open_work(tenant_a, ticket["id"])
    history = (await http.get(f"{url}/history")).json()

    assert len(still_one) == 1
    assert reopening["ticket_id"] == ticket["id"]
    assert reopened["status"] == "open"
    assert reopened["resolved_at"] is None
    assert len(new_work) == 1
    assert new_work[0].channel == "email"
    assert new_work[0].id != still_one[0].id
    reopen = [e for e in history if e.get("action") == "ticket.reopened"]
    assert [(e["before"], e["after"]) for e in reopen] == [
        ({"status": "resolved"}, {"status": "open"})
    ]


async def test_a_customer_message_after_the_window_or_on_a_closed_ticket_opens_a_linked_one(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.AGENT)
    agent = await make_staff(tenant_a)
    old = await make_ticket(
        tenant_a, channel="chat", assignee_user_id=str(agent.id), tags=["tarjetas"], impact="high"
    )
    url = tenant_a.url(f"/tickets/{old['id']}")
    await http.patch(url, json={"status": "resolved"})
    await _resolved_days_ago(tenant_a, old["id"], 8)

    late = await post_ok(http, f"{url}/messages", {"kind": "customer", "text": "Otra vez falla"})
    await http.patch(url, json={"status": "closed"})
    on_closed = await post_ok(http, f"{url}/messages", {"kind": "customer", "text": "¿Hola?"})

    follow_up = await fetch(tenant_a, late["ticket_id"])
    assert late["ticket_id"] != old["id"]
    assert follow_up["status"] == "new"
    assert follow_up["requester_id"] == old["requester_id"]
    assert follow_up["subject"] == old["subject"]
    assert follow_up["description"] == "Otra vez falla"
    assert follow_up["assignee_user_id"] == str(agent.id)
    assert (follow_up["tags"], follow_up["priority"]) == (["tarjetas"], old["priority"])
    assert [r["id"] for r in follow_up["related"]] == [old["id"]]
    assert [r["id"] for r in (await fetch(tenant_a, old["id"]))["related"]] == [
        late["ticket_id"],
        on_closed["ticket_id"],
    ]
    assert on_closed["ticket_id"] not in (old["id"], late["ticket_id"])
    assert (await fetch(tenant_a, old["id"]))["status"] == "closed"
    (work,) = await _open_work(tenant_a, late["ticket_id"])
    assert work.channel == "chat"
    thread = (await http.get(tenant_a.url(f"/tickets/{late['ticket_id']}/messages"))).json()
    assert [m["kind"] for m in thread] == ["system", "customer"]
    assert old["reference"] in thread[0]["text"]


async def test_history_shows_changes_and_messages_in_order(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.AGENT)
    ticket = await make_ticket(tenant_a)
    url = tenant_a.url(f"/tickets/{ticket['id']}")

    await http.patch(url, json={"status": "open", "tags": ["vip"]})
    await post_ok(http, f"{url}/messages", {"kind": "internal", "text": "Llamar mañana"})
    await http.patch(url, json={"status": "pending_customer"})
    history = (await http.get(f"{url}/history")).json()

    assert [(e["entry"], e["action"]) for e in history] == [
        ("change", "ticket.created"),
        ("change", "ticket.updated"),
        ("message", None),
        ("change", "ticket.updated"),
    ]
    assert history[0]["after"]["subject"] == "No puedo entrar"
    assert history[1]["before"] == {"status": "new", "tags": []}
    assert history[1]["after"] == {"status": "open", "tags": ["vip"]}
    assert history[2]["message"]["text"] == "Llamar mañana"
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)
