"""Reading MIME without a database: the parts of the parser a person would notice."""

from centralita.channels.email.mime import parse
from centralita.channels.email.threads import reply_subject, visible_reply
from tests.channels.email.conftest import corpus


def test_an_html_only_email_reads_as_lines_of_text() -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Solo HTML\r\n"
        b"Message-ID: <html-only@example.com>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style></head><body><p>Primera l&iacute;nea</p>"
        b"<div>Segunda<br>Tercera</div><script>alert(1)</script></body></html>\r\n"
    )

    parsed = parse(raw)

    assert parsed.text == "Primera línea\nSegunda\nTercera"


def test_a_delivery_report_names_the_failed_recipient_and_the_original_message() -> None:
    raw = (
        corpus("dsn_bounce.eml")
        .replace(b"{{RECIPIENT}}", b"Laura@Cliente.example")
        .replace(b"{{MESSAGE_ID}}", b"reply.1@centralita.localhost")
    )

    parsed = parse(raw)

    assert parsed.automatic is not None
    assert parsed.reported_id == "reply.1@centralita.localhost"
    assert parsed.report is not None
    [failure] = parsed.report
    assert failure.recipient == "laura@cliente.example"
    assert failure.permanent


def test_a_message_without_message_id_is_named_by_its_bytes() -> None:
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\nhola\r\n"

    assert parse(raw).message_id == parse(raw).message_id
    assert parse(raw).message_id.startswith("sha256-")
    assert parse(raw + b"!").message_id != parse(raw).message_id


def test_outlook_quote_separators_and_signatures_are_not_the_visible_reply() -> None:
    text = (
        "Sí, el número es 1042.\n\n-----Original Message-----\nFrom: Soporte\n"
        "Sent: martes\nSubject: Re: pedido\n\n¿Nos da el número?"
    )

    assert visible_reply(text) == "Sí, el número es 1042."


def test_reply_subjects_carry_the_reference_once() -> None:
    assert reply_subject("BP-7", "Re: RE: Factura") == "Re: [BP-7] Factura"
    assert reply_subject("BP-7", "RE: [BP-7] Factura") == "Re: [BP-7] Factura"
