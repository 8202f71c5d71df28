"""Real SMTP conversations with our listener: stored before 250, refused when not ours."""

import asyncio
import smtplib
import socket
from email import policy
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from centralita.app import create_app
from centralita.channels.email.models import EmailAttachment, EmailRecord, EmailStatus
from centralita.config import Settings
from centralita.customers.models import CustomerIdentity
from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction, Message
from centralita.nlu.service import set_intent_route
from centralita.tickets.models import Ticket
from tests.channels.email.conftest import Listener, add_mailbox, corpus, unique_address
from tests.conftest import TenantFixture


def _mail(
    subject: str, body: str, *, message_id: str, sender: str = "ana@example.com"
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Ana Gómez <{sender}>"
    mail["To"] = "ayuda@tenant-a.example"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{message_id}>"
    mail.set_content(body)
    return mail


async def _records(tenant: TenantFixture) -> list[EmailRecord]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(EmailRecord).order_by(EmailRecord.created_at)
        return list((await session.execute(query)).scalars())


async def _tickets(tenant: TenantFixture) -> list[Ticket]:
    async with tenant.db.tenant_session(tenant.id) as session:
        return list((await session.execute(select(Ticket).order_by(Ticket.number))).scalars())


async def test_a_new_email_is_a_ticket_for_its_sender_stored_before_the_250(
    listener: Listener, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a.upper(), auto_acknowledge=False)
    await add_mailbox(tenant_b, unique_address())

    refused = await listener.send(
        _mail(
            "No llega mi pedido",
            "Hola,\n\nMi pedido 1042 no ha llegado.\n\n-- \nAna",
            message_id="m1@example.com",
        ),
        [box_a],
    )

    # sendmail returned: the server said 250, so everything is already committed.
    assert refused == {}
    [ticket] = await _tickets(tenant_a)
    assert ticket.subject == "No llega mi pedido"
    assert ticket.channel == "email"
    assert ticket.description == "Hola,\n\nMi pedido 1042 no ha llegado."
    [record] = await _records(tenant_a)
    assert record.status == EmailStatus.RECEIVED
    assert record.ticket_id == ticket.id
    assert record.counterpart == "ana@example.com"
    assert "-- \nAna" in record.full_text
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        identity = (await session.execute(select(CustomerIdentity))).scalar_one()
        work = (await session.execute(select(Interaction))).scalar_one()
        raw = (await session.execute(select(EmailRecord.raw))).scalar_one()
    assert identity.customer_id == ticket.requester_id
    assert identity.value == "ana@example.com"
    assert work.ticket_id == ticket.id
    assert work.channel == "email"
    assert b"Mi pedido 1042" in raw
    assert await _tickets(tenant_b) == []
    assert await _records(tenant_b) == []


async def test_mail_for_an_address_nobody_owns_is_refused_with_550(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a)

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await listener.send(
            _mail("Hola", "Hola", message_id="m2@example.com"), [unique_address("nadie")]
        )

    [(code, _)] = refused.value.recipients.values()
    assert code == 550
    assert await _records(tenant_a) == []


async def test_a_resent_message_id_stores_nothing_new_even_when_deliveries_race(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a)
    mail = _mail("Reintento", "El mismo mensaje", message_id="same@example.com")

    await asyncio.gather(*(listener.send(mail, [box_a]) for _ in range(3)))
    await listener.send(mail, [box_a])

    assert len(await _tickets(tenant_a)) == 1
    assert len(await _records(tenant_a)) == 1


async def test_one_message_to_two_tenants_is_stored_once_for_each_apart(
    listener: Listener, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    box_a, box_b = unique_address(), unique_address()
    await add_mailbox(tenant_a, box_a)
    await add_mailbox(tenant_b, box_b)

    await listener.send(
        _mail("A los dos", "Para ambos", message_id="both@example.com"),
        [box_a, box_b],
    )

    [ticket_a], [ticket_b] = await _tickets(tenant_a), await _tickets(tenant_b)
    assert ticket_a.tenant_id == tenant_a.id
    assert ticket_b.tenant_id == tenant_b.id
    assert ticket_a.requester_id != ticket_b.requester_id


async def test_a_message_over_the_size_limit_is_refused_with_552(
    listener: Listener, tenant_a: TenantFixture, settings_limit: int
) -> None:
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a)
    huge = _mail("Enorme", "x" * (settings_limit + 10), message_id="huge@example.com")

    # smtplib declares the size (ESMTP SIZE), so the refusal comes already at MAIL FROM.
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        await listener.send(huge, [box_a])

    assert refused.value.smtp_code == 552
    assert await _records(tenant_a) == []


async def test_thousands_of_parts_are_read_up_to_the_limit_raw_kept_and_mail_keeps_flowing(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a)

    await asyncio.gather(
        listener.send(corpus("two_thousand_parts.eml"), [box_a]),
        listener.send(corpus("deep_nesting.eml"), [box_a]),
        listener.send(
            _mail("Normal", "Sigue llegando", message_id="n@example.com"),
            [box_a],
        ),
    )

    by_subject = {r.subject: r for r in await _records(tenant_a)}
    parts = by_subject["Dos mil partes"]
    assert parts.status == EmailStatus.RECEIVED
    assert parts.reason is not None
    assert "more than 200 parts" in parts.reason
    assert parts.size == len(corpus("two_thousand_parts.eml"))
    deep = by_subject["Anidado doscientas veces"]
    assert deep.reason is not None
    assert "nested deeper than" in deep.reason
    assert by_subject["Normal"].status == EmailStatus.RECEIVED
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        stored = (
            await session.execute(select(func.count()).where(EmailAttachment.email_id == parts.id))
        ).scalar_one()
        raw = (
            await session.execute(select(EmailRecord.raw).where(EmailRecord.id == parts.id))
        ).scalar_one()
    assert 0 < stored < 2000
    assert raw == corpus("two_thousand_parts.eml")


async def test_the_application_starts_the_listener_on_the_configured_port(
    settings: Settings, tenant_a: TenantFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a)
    application = create_app(settings.model_copy(update={"smtp_listen_port": port}))

    async with application.router.lifespan_context(application):
        await Listener(port).send(_mail("Desde run", "Hola", message_id="run@example.com"), [box_a])

    [ticket] = await _tickets(tenant_a)
    assert ticket.subject == "Desde run"


async def test_the_tenants_intents_steer_a_new_email_to_their_queue(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await set_intent_route(
            session, tenant_a.id, "card_limit", queue="tarjetas", keywords=["límite", "tarjeta"]
        )
        await session.commit()

    await listener.send(
        _mail("Límite de la tarjeta", "Quiero subir el límite de mi tarjeta", message_id="l@e.com"),
        [box_a],
    )

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        work = (await session.execute(select(Interaction))).scalar_one()
    assert work.queue == "tarjetas"
    assert work.topic == "card_limit"


async def test_an_internationalised_sender_is_received_over_smtputf8(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a)
    mail = _mail("Señal débil", "No tengo cobertura en casa.", message_id="utf8@ejemplo.es")
    del mail["From"]
    mail["From"] = "José Núñez <josé@ejemplo.es>"
    data = mail.as_bytes(policy=policy.SMTPUTF8)

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", listener.port, timeout=30) as client:
            client.sendmail("josé@ejemplo.es", [box_a], data, mail_options=["SMTPUTF8"])

    await asyncio.to_thread(send)

    [record] = await _records(tenant_a)
    assert record.counterpart == "josé@ejemplo.es"
    assert record.counterpart_name == "José Núñez"
    assert record.status == EmailStatus.RECEIVED
    [ticket] = await _tickets(tenant_a)
    assert ticket.subject == "Señal débil"


async def test_the_agent_reads_the_email_and_the_customers_replies_in_the_work(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box_a = unique_address()
    await add_mailbox(tenant_a, box_a, auto_acknowledge=False)
    await listener.send(
        _mail("Factura duplicada", "Me habéis cobrado dos veces.", message_id="f1@example.com"),
        [box_a],
    )
    reply = _mail("Re: Factura duplicada", "Adjunto el extracto.", message_id="f2@example.com")
    reply["In-Reply-To"] = "<f1@example.com>"
    statement = b"%PDF-1.4 extracto de noviembre"
    reply.add_attachment(statement, "application", "pdf", filename="extracto.pdf")
    await listener.send(reply, [box_a])

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        work = (await session.execute(select(Interaction))).scalar_one()
        query = (
            select(Message).where(Message.interaction_id == work.id).order_by(Message.created_at)
        )
        messages = list((await session.execute(query)).scalars())
    # One piece of work waits for an agent, and it holds both emails, as the customer wrote them.
    assert [(m.author_kind, m.text) for m in messages] == [
        ("customer", "Me habéis cobrado dos veces."),
        ("customer", "Adjunto el extracto."),
    ]
    # The customer's file is listed with their words, and the agent opens it from there.
    [listed] = messages[1].attachments
    assert (listed["name"], listed["size"]) == ("extracto.pdf", len(statement))
    download = await (await tenant_a.client(Role.AGENT)).get(listed["url"])
    assert download.status_code == 200
    assert download.content == statement
