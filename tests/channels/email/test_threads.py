"""Replies find their ticket by Message-ID or subject, within one tenant; strangers are held."""

from email.message import EmailMessage

from fastapi import FastAPI
from sqlalchemy import select

from centralita.channels.email.models import EmailRecord, EmailStatus
from centralita.events.bus import Event, wait_for_published
from centralita.tickets.models import MessageKind, Ticket, TicketMessage
from centralita.tickets.settings import reference, ticket_settings
from tests.channels.email.conftest import Listener, add_mailbox, corpus, unique_address
from tests.conftest import TenantFixture


def _mail(
    box: str,
    subject: str,
    body: str,
    *,
    message_id: str,
    sender: str = "laura.perez@cliente.example",
    **headers: str,
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = box
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{message_id}>"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


async def _record(tenant: TenantFixture, message_id: str) -> EmailRecord:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(EmailRecord).where(EmailRecord.message_id == message_id)
        return (await session.execute(query)).scalar_one()


async def _thread(tenant: TenantFixture, ticket_id: object) -> list[TicketMessage]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = (
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket_id)
            .order_by(TicketMessage.created_at)
        )
        return list((await session.execute(query)).scalars())


async def _reference(tenant: TenantFixture, ticket_id: object) -> str:
    async with tenant.db.tenant_session(tenant.id) as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.id == ticket_id))).scalar_one()
        return reference((await ticket_settings(session, tenant.tenant)).prefix, ticket.number)


async def _opened(
    listener: Listener, tenant: TenantFixture, box: str, message_id: str
) -> EmailRecord:
    await listener.send(
        _mail(box, "Factura duplicada", "Me han cobrado dos veces.", message_id=message_id),
        [box],
    )
    return await _record(tenant, message_id)


async def test_a_reply_by_in_reply_to_lands_on_its_ticket_without_the_quoted_history(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    opening = await _opened(listener, tenant_a, box, "open-1@cliente.example")
    iphone = (
        corpus("iphone_reply.eml")
        .replace(b"{{IN_REPLY_TO}}", b"open-1@cliente.example")
        .replace(b"{{SUBJECT}}", b"Factura duplicada")
    )

    await listener.send(iphone, [box])

    reply = await _record(tenant_a, "7C3F1A2B-9D4E-4B1A-8F00-1D2E3F4A5B6C@cliente.example")
    assert reply.status == EmailStatus.RECEIVED
    assert reply.ticket_id == opening.ticket_id
    [message] = await _thread(tenant_a, opening.ticket_id)
    assert message.kind == MessageKind.CUSTOMER
    assert message.text == "Gracias, ya lo veo bien en la app."
    assert "Hemos anulado el cargo duplicado." in reply.full_text


async def test_a_reply_with_the_ticket_number_in_the_subject_is_threaded_and_spanish_quotes_cut(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    opening = await _opened(listener, tenant_a, box, "open-2@cliente.example")
    ref = await _reference(tenant_a, opening.ticket_id)
    gmail = corpus("gmail_spanish_reply.eml").replace(
        b"{{SUBJECT}}", f"[{ref}] Factura duplicada".encode()
    )

    await listener.send(gmail, [box])

    [message] = await _thread(tenant_a, opening.ticket_id)
    assert message.text == "Perfecto, muchas gracias por la rapidez."


async def test_a_thread_never_crosses_tenants(
    listener: Listener, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    box_a, box_b = unique_address(), unique_address()
    await add_mailbox(tenant_a, box_a)
    await add_mailbox(tenant_b, box_b)
    opening_b = await _opened(listener, tenant_b, box_b, "open-b@cliente.example")
    ref_b = await _reference(tenant_b, opening_b.ticket_id)

    # Tenant A receives a "reply" naming tenant B's message and ticket number.
    await listener.send(
        _mail(
            box_a,
            f"Re: [{ref_b}] Factura duplicada",
            "¿Y mi factura?",
            message_id="cross@cliente.example",
            In_Reply_To="<open-b@cliente.example>",
        ),
        [box_a],
    )

    crossed = await _record(tenant_a, "cross@cliente.example")
    assert crossed.ticket_id is not None
    assert crossed.ticket_id != opening_b.ticket_id
    assert await _thread(tenant_b, opening_b.ticket_id) == []


async def test_a_non_participant_is_held_reply_to_changes_nothing_and_an_agent_releases_it(
    listener: Listener, tenant_a: TenantFixture, app: FastAPI
) -> None:
    heard: list[Event] = []
    app.state.bus.subscribe(heard.append)
    box = unique_address()
    await add_mailbox(tenant_a, box)
    opening = await _opened(listener, tenant_a, box, "open-3@cliente.example")
    ref = await _reference(tenant_a, opening.ticket_id)

    await listener.send(
        _mail(
            box,
            f"Re: [{ref}] Factura duplicada",
            "Soy su gestor: cancelen la cuenta.",
            message_id="stranger@otro.example",
            sender="gestor@otro.example",
            # Pretending to answer for the customer changes nothing: the author is From.
            Reply_To="laura.perez@cliente.example",
        ),
        [box],
    )

    held = await _record(tenant_a, "stranger@otro.example")
    await wait_for_published()
    app.state.bus.unsubscribe(heard.append)
    [announced] = [event for event in heard if event.type == "email.held"]
    assert announced.data["email_id"] == str(held.id)
    assert held.status == EmailStatus.HELD
    assert held.ticket_id == opening.ticket_id
    assert await _thread(tenant_a, opening.ticket_id) == []
    http = await tenant_a.client()
    listed = await http.get(tenant_a.url("/email/messages"), params={"status": "held"})
    assert [item["id"] for item in listed.json()["items"]] == [str(held.id)]

    released = await http.post(tenant_a.url(f"/email/messages/{held.id}/release"))

    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    [message] = await _thread(tenant_a, opening.ticket_id)
    assert message.text == "Soy su gestor: cancelen la cuenta."
    again = await http.post(tenant_a.url(f"/email/messages/{held.id}/release"))
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert len(await _thread(tenant_a, opening.ticket_id)) == 1


async def test_a_dismissed_email_stays_out_of_the_ticket(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    opening = await _opened(listener, tenant_a, box, "open-4@cliente.example")
    await listener.send(
        _mail(
            box,
            "Re: Factura duplicada",
            "spam",
            message_id="spam@otro.example",
            sender="spam@otro.example",
            In_Reply_To="<open-4@cliente.example>",
        ),
        [box],
    )
    held = await _record(tenant_a, "spam@otro.example")
    http = await tenant_a.client()

    dismissed = await http.post(tenant_a.url(f"/email/messages/{held.id}/dismiss"))

    assert dismissed.json()["status"] == "dismissed"
    assert await _thread(tenant_a, opening.ticket_id) == []


async def test_an_auto_reply_on_a_ticket_is_kept_but_does_not_reopen_or_add_to_it(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    opening = await _opened(listener, tenant_a, box, "open-5@cliente.example")
    out_of_office = corpus("auto_reply.eml").replace(
        b"Auto-Submitted: auto-replied",
        b"Auto-Submitted: auto-replied\r\nIn-Reply-To: <open-5@cliente.example>",
    )

    await listener.send(out_of_office, [box])

    record = await _record(tenant_a, "ooo-0001@cliente.example")
    assert record.ticket_id == opening.ticket_id
    assert record.automatic
    assert await _thread(tenant_a, opening.ticket_id) == []
