"""Awkward real-world mail, through a real SMTP conversation, read as a person would read it."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import undefer

from centralita.channels.email.models import EmailAttachment, EmailRecord, EmailStatus
from centralita.channels.email.smtp import start_listener
from centralita.config import Settings
from centralita.db.engine import Database
from centralita.tickets.models import Ticket
from tests.channels.email.conftest import Listener, add_mailbox, corpus, unique_address
from tests.conftest import TenantFixture


async def _deliver(
    listener: Listener, tenant: TenantFixture, name: str
) -> tuple[EmailRecord, list[EmailAttachment], Ticket | None]:
    box = unique_address()
    await add_mailbox(tenant, box)
    await listener.send(corpus(name), [box])
    async with tenant.db.tenant_session(tenant.id) as session:
        record = (
            await session.execute(select(EmailRecord).where(EmailRecord.mailbox == box))
        ).scalar_one()
        attachments = list(
            (
                await session.execute(
                    select(EmailAttachment)
                    .where(EmailAttachment.email_id == record.id)
                    .options(undefer(EmailAttachment.content))
                )
            ).scalars()
        )
        ticket = None
        if record.ticket_id is not None:
            query = select(Ticket).where(Ticket.id == record.ticket_id)
            ticket = (await session.execute(query)).scalar_one()
        return record, attachments, ticket


@pytest.mark.parametrize(
    ("name", "subject", "words"),
    [
        ("iso_8859_1.eml", "No puedo acceder desde el móvil", "¿Podéis ayudarme?"),
        ("windows_1252.eml", "Cargo pendiente", "19,99 € aparece como “pendiente”"),
        ("shift_jis.eml", "配送状況について", "注文番号 A-1042 の配送状況を教えてください。"),
        ("missing_charset.eml", "Sin charset", "calle Peñalara 3"),
        ("unknown_charset.eml", "Charset inventado", "darme de baja"),
        ("broken_base64.eml", "Adjunto roto", "Hola, os envío el contrato."),
    ],
)
async def test_odd_charsets_and_broken_encodings_read_as_the_sender_wrote(
    listener: Listener, tenant_a: TenantFixture, name: str, subject: str, words: str
) -> None:
    record, _, ticket = await _deliver(listener, tenant_a, name)

    assert record.status == EmailStatus.RECEIVED
    assert ticket is not None
    assert ticket.subject == subject
    assert words in ticket.description


async def test_outlook_html_is_sanitised_and_loads_nothing_remote(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    record, attachments, ticket = await _deliver(listener, tenant_a, "outlook_html.eml")

    assert record.html is not None
    assert "<b>dos veces</b>" in record.html
    for remote in ("<img", "tracker.example", "<script", "alert(1)", "<style", "url("):
        assert remote not in record.html
    assert ticket is not None
    assert ticket.description.startswith("Hola,\n\nMe han cobrado dos veces")
    [image] = attachments
    assert image.inline
    assert image.content_id == "image001.png@01DB1234.ABCD5678"
    assert image.content.startswith(b"GIF89a")


async def test_nested_multipart_keeps_the_body_and_every_attachment(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    record, attachments, ticket = await _deliver(listener, tenant_a, "nested_multipart.eml")

    assert ticket is not None
    assert ticket.description == "El paquete llegó roto. Adjunto las fotos y el albarán."
    names = sorted(a.filename for a in attachments)
    assert names == ["albarán.pdf", "attachment.gif", "message.eml"]
    forwarded = next(a for a in attachments if a.filename == "message.eml")
    assert b"Albar\xc3\xa1n de entrega 5521" in forwarded.content
    assert record.html is not None
    assert "<em>roto</em>" in record.html


async def test_a_calendar_invite_keeps_its_text_and_the_ics(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    _, attachments, ticket = await _deliver(listener, tenant_a, "calendar_invite.eml")

    assert ticket is not None
    assert "jueves 3 de diciembre" in ticket.description
    assert {a.content_type for a in attachments} == {"text/calendar", "application/ics"}
    assert all(b"BEGIN:VCALENDAR" in a.content for a in attachments)


async def test_list_mail_and_auto_replies_are_marked_automatic(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    listed, _, _ = await _deliver(listener, tenant_a, "mailing_list.eml")
    auto, _, _ = await _deliver(listener, tenant_a, "auto_reply.eml")

    assert listed.automatic
    assert auto.automatic


async def test_an_attachment_over_the_limit_is_kept_only_in_the_raw_message(
    db: Database, settings: Settings, tenant_a: TenantFixture
) -> None:
    small = settings.model_copy(update={"email_attachment_max_bytes": 10})
    server = await start_listener(db, small, host="127.0.0.1", port=0)
    try:
        listener = Listener(server.sockets[0].getsockname()[1])
        record, attachments, _ = await _deliver(listener, tenant_a, "nested_multipart.eml")
    finally:
        server.close()
        await server.wait_closed()

    assert [a.filename for a in attachments] == ["albarán.pdf"]
    assert record.reason is not None
    assert "attachment.gif" in record.reason
    assert "message.eml" in record.reason
