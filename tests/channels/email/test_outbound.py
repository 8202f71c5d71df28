"""Agents' replies and automatic mail go out once, threaded, from the tenant's address."""

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import func, select

from centralita.app import job_handlers
from centralita.channels.email.models import Direction, EmailRecord, EmailStatus
from centralita.channels.email.service import send_ticket_confirmation
from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.interactions.models import Interaction
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.jobs.worker import MAX_ATTEMPTS, JobWorker
from centralita.tickets.models import Ticket
from tests.channels.email.conftest import Listener, Sink, add_mailbox, corpus, unique_address
from tests.conftest import TenantFixture, clear_jobs

CUSTOMER = "laura.perez@cliente.example"


@pytest.fixture
async def worker_for(settings: Settings, sink: Sink, db: Database) -> Callable[..., JobWorker]:
    await clear_jobs(db)
    relayed = settings.model_copy(
        update={"smtp_relay_host": "127.0.0.1", "smtp_relay_port": sink.port}
    )

    def make(clock: Callable[[], datetime] = utcnow) -> JobWorker:
        return JobWorker(db, job_handlers(relayed), clock=clock)

    return make


def _mail(box: str, subject: str, message_id: str, **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Laura Pérez <{CUSTOMER}>"
    mail["To"] = box
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{message_id}>"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Me han cobrado dos veces la factura.")
    return mail


async def _opened(listener: Listener, tenant: TenantFixture, box: str, message_id: str) -> Ticket:
    await listener.send(_mail(box, "Factura duplicada", message_id), [box])
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(Ticket).join(EmailRecord, EmailRecord.ticket_id == Ticket.id)
        query = query.where(EmailRecord.message_id == message_id)
        return (await session.execute(query)).scalar_one()


async def _outgoing(tenant: TenantFixture) -> list[EmailRecord]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(EmailRecord).where(EmailRecord.direction == Direction.OUT)
        return list((await session.execute(query.order_by(EmailRecord.created_at))).scalars())


async def _reply(tenant: TenantFixture, ticket: Ticket, text: str) -> str:
    http = await tenant.client()
    posted = await http.post(
        tenant.url(f"/tickets/{ticket.id}/messages"), json={"kind": "public", "text": text}
    )
    assert posted.status_code == 201, posted.text
    return str(posted.json()["id"])


async def test_a_public_reply_goes_out_once_as_threaded_text_and_html_from_the_tenant(
    listener: Listener, sink: Sink, tenant_a: TenantFixture, worker_for: Callable[..., JobWorker]
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    ticket = await _opened(listener, tenant_a, box, "bill-1@cliente.example")
    message_id = await _reply(tenant_a, ticket, "Hemos anulado el cargo duplicado.\n\nUn saludo")

    await worker_for().step()

    [sent] = sink.messages()
    assert sent["From"].addresses[0].addr_spec == box
    assert sent["From"].addresses[0].display_name == "Soporte"
    assert sent["To"] == CUSTOMER
    assert sent["Message-ID"] == f"<reply.{message_id}@centralita.localhost>"
    assert sent["In-Reply-To"] == "<bill-1@cliente.example>"
    assert "<bill-1@cliente.example>" in sent["References"]
    assert sent["Subject"].startswith("Re: [")
    assert sent["Subject"].endswith("-1] Factura duplicada")
    assert sent["Auto-Submitted"] is None
    assert sent.get_content_type() == "multipart/alternative"
    plain, rich = sent.iter_parts()
    assert (
        plain.get_content().replace("\r\n", "\n").strip()
        == "Hemos anulado el cargo duplicado.\n\nUn saludo"
    )
    assert "<p>Hemos anulado el cargo duplicado.</p>" in rich.get_content()
    [record] = await _outgoing(tenant_a)
    assert record.status == EmailStatus.SENT

    # The customer answers our mail: it threads onto the same ticket by In-Reply-To.
    await listener.send(
        _mail(box, "Re: gracias", "thanks@cliente.example", In_Reply_To=sent["Message-ID"]), [box]
    )
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        query = select(EmailRecord.ticket_id).where(
            EmailRecord.message_id == "thanks@cliente.example"
        )
        assert (await session.execute(query)).scalar_one() == ticket.id


async def test_a_retried_job_after_a_committed_send_sends_nothing_again(
    listener: Listener, sink: Sink, tenant_a: TenantFixture, worker_for: Callable[..., JobWorker]
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    ticket = await _opened(listener, tenant_a, box, "bill-2@cliente.example")
    message_id = await _reply(tenant_a, ticket, "Respuesta única")
    await worker_for().step()
    # As if a second worker, or a replay, ran the same delivery again.
    async with tenant_a.db.system_session() as session:
        schedule(session, JobKind.EMAIL_TICKET_REPLY, ref_id=uuid.UUID(message_id))
        await session.commit()

    await worker_for().step()

    assert len(sink.messages()) == 1
    assert len(await _outgoing(tenant_a)) == 1


async def test_a_relay_that_refuses_gets_the_reply_later_and_it_is_never_lost(
    listener: Listener, sink: Sink, tenant_a: TenantFixture, worker_for: Callable[..., JobWorker]
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    ticket = await _opened(listener, tenant_a, box, "bill-3@cliente.example")
    await _reply(tenant_a, ticket, "Respuesta que espera")
    sink.refuse = True

    await worker_for().step()

    assert sink.messages() == []
    assert await _outgoing(tenant_a) == []
    async with tenant_a.db.system_session() as session:
        query = select(Job).where(Job.kind == JobKind.EMAIL_TICKET_REPLY)
        retry = (await session.execute(query)).scalar_one()
    assert retry.attempts == 1
    sink.refuse = False

    await worker_for(lambda: utcnow() + timedelta(minutes=5)).step()

    assert len(sink.messages()) == 1
    assert [r.status for r in await _outgoing(tenant_a)] == [EmailStatus.SENT]


async def test_a_reply_the_relay_never_takes_is_marked_failed_after_the_last_attempt(
    listener: Listener, sink: Sink, tenant_a: TenantFixture, worker_for: Callable[..., JobWorker]
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    ticket = await _opened(listener, tenant_a, box, "bill-5@cliente.example")
    message_id = await _reply(tenant_a, ticket, "Respuesta que no sale")
    sink.refuse = True
    later = utcnow()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        async with tenant_a.db.system_session() as session:
            query = select(Job).where(Job.kind == JobKind.EMAIL_TICKET_REPLY)
            job = (await session.execute(query)).scalar_one()
        waits.append(job.due_at - later)
        later = job.due_at
        assert await _outgoing(tenant_a) == []  # nothing recorded while attempts remain
        await worker_for(lambda at=later: at).step()

    # Attempts were spaced out more and more, then the job was given up, visibly.
    assert waits[2:] == sorted(waits[2:])
    assert waits[-1] > timedelta(minutes=4)
    async with tenant_a.db.system_session() as session:
        query = select(Job).where(Job.kind == JobKind.EMAIL_TICKET_REPLY)
        assert (await session.execute(query)).scalars().all() == []
    assert sink.messages() == []
    (failed,) = await _outgoing(tenant_a)
    assert failed.status == EmailStatus.FAILED
    assert failed.message_ref == uuid.UUID(message_id)
    assert "451" in (failed.reason or "")
    http = await tenant_a.client()
    listed = await http.get(
        tenant_a.url("/email/messages"), params={"status": "failed", "ticket_id": str(ticket.id)}
    )
    assert listed.status_code == 200
    assert [(m["status"], m["reason"]) for m in listed.json()["items"]] == [
        ("failed", failed.reason)
    ]
    # A replay once the relay is back sends nothing: the failure stands, nothing goes twice.
    sink.refuse = False
    async with tenant_a.db.system_session() as session:
        schedule(session, JobKind.EMAIL_TICKET_REPLY, ref_id=uuid.UUID(message_id))
        await session.commit()
    await worker_for().step()
    assert sink.messages() == []


async def test_an_agent_message_on_the_email_work_goes_out_through_channel_delivery(
    listener: Listener, sink: Sink, tenant_a: TenantFixture, worker_for: Callable[..., JobWorker]
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    ticket = await _opened(listener, tenant_a, box, "bill-4@cliente.example")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        query = select(Interaction.id).where(Interaction.ticket_id == ticket.id)
        work_id = (await session.execute(query)).scalar_one()
    http = await tenant_a.client()
    posted = await http.post(
        tenant_a.url(f"/interactions/{work_id}/messages"),
        json={"author_kind": "agent", "text": "Lo revisamos hoy mismo."},
    )
    assert posted.status_code == 201, posted.text

    await worker_for().step()

    [sent] = sink.messages()
    assert sent["Message-ID"] == f"<msg.{posted.json()['id']}@centralita.localhost>"
    assert sent["In-Reply-To"] == "<bill-4@cliente.example>"
    assert "Factura duplicada" in sent["Subject"]


async def test_new_email_is_acknowledged_automatically_capped_per_hour_never_to_machines(
    listener: Listener,
    sink: Sink,
    tenant_a: TenantFixture,
    worker_for: Callable[..., JobWorker],
    settings: Settings,
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box, auto_acknowledge=True)
    for number in range(settings.email_auto_replies_per_hour + 2):
        await listener.send(
            _mail(box, f"Consulta {number}", f"ask-{number}@cliente.example"), [box]
        )
    await listener.send(corpus("auto_reply.eml"), [box])
    await listener.send(corpus("mailing_list.eml"), [box])

    await worker_for().step()

    acknowledgements = sink.messages()
    assert len(acknowledgements) == settings.email_auto_replies_per_hour
    first = acknowledgements[0]
    assert first["Auto-Submitted"] == "auto-replied"
    assert first["In-Reply-To"] == "<ask-0@cliente.example>"
    assert "Hemos recibido tu mensaje" in first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    statuses = sorted(r.status for r in await _outgoing(tenant_a))
    assert statuses.count(EmailStatus.SKIPPED) == 2
    assert statuses.count(EmailStatus.SENT) == settings.email_auto_replies_per_hour


async def test_our_own_mail_coming_back_is_ignored(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box, auto_acknowledge=True)

    await listener.send(_mail(box, "Re: eco", "reply.123@centralita.localhost"), [box])

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        record = (await session.execute(select(EmailRecord))).scalar_one()
        tickets = (await session.execute(select(func.count()).select_from(Ticket))).scalar_one()
        jobs = (
            await session.execute(
                select(func.count()).where(Job.kind == JobKind.EMAIL_ACKNOWLEDGEMENT)
            )
        ).scalar_one()
    assert record.status == EmailStatus.IGNORED
    assert tickets == 0
    assert jobs == 0


async def test_a_hard_bounce_marks_the_address_undeliverable_for_the_agent_and_stops_mail(
    listener: Listener, sink: Sink, tenant_a: TenantFixture, worker_for: Callable[..., JobWorker]
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    ticket = await _opened(listener, tenant_a, box, "bill-5@cliente.example")
    await _reply(tenant_a, ticket, "Primera respuesta")
    await worker_for().step()
    [sent] = sink.messages()
    report = (
        corpus("dsn_bounce.eml")
        .replace(b"{{RECIPIENT}}", CUSTOMER.encode())
        .replace(b"{{MESSAGE_ID}}", sent["Message-ID"].strip("<>").encode())
    )

    await listener.send(report, [box], sender="")

    http = await tenant_a.client()
    identities = await http.get(tenant_a.url(f"/customers/{ticket.requester_id}/identities"))
    [identity] = identities.json()
    assert identity["undeliverable_at"] is not None
    assert "5.1.1" in identity["undeliverable_reason"]
    [original] = await _outgoing(tenant_a)
    assert original.status == EmailStatus.BOUNCED
    await _reply(tenant_a, ticket, "Segunda respuesta")

    await worker_for().step()

    assert len(sink.messages()) == 1
    statuses = [r.status for r in await _outgoing(tenant_a)]
    assert statuses == [EmailStatus.BOUNCED, EmailStatus.UNDELIVERABLE]


async def test_a_web_ticket_confirmation_is_sent_once_as_auto_generated_mail(
    listener: Listener, sink: Sink, tenant_a: TenantFixture, worker_for: Callable[..., JobWorker]
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    ticket = await _opened(listener, tenant_a, box, "bill-6@cliente.example")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        send_ticket_confirmation(session, ticket)
        send_ticket_confirmation(session, ticket)
        await session.commit()

    await worker_for().step()

    [confirmation] = sink.messages()
    assert confirmation["Auto-Submitted"] == "auto-generated"
    assert "Factura duplicada" in confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_a_ticket_opened_on_the_help_portal_is_confirmed_to_the_visitor_by_email(
    client: httpx.AsyncClient,
    sink: Sink,
    tenant_a: TenantFixture,
    worker_for: Callable[..., JobWorker],
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    contact = f"/help/{tenant_a.slug}/contact"
    form = await client.get(contact)
    token = re.search(r'name="form_token" value="([^"]+)"', form.text)
    assert token

    sent = await client.post(
        contact,
        data={
            "name": "Ana",
            "email": "ana.portal@cliente.example",
            "subject": "Cargo duplicado",
            "message": "Me cobraron dos veces",
            "form_token": token.group(1),
        },
    )
    assert sent.status_code == 201, sent.text
    await worker_for().step()

    [confirmation] = sink.messages()
    assert confirmation["To"] == "ana.portal@cliente.example"
    assert confirmation["From"].addresses[0].addr_spec == box
    body = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Cargo duplicado" in body
    reference = re.search(r"\[([^\]]+)\]", confirmation["Subject"])
    assert reference
    assert reference.group(1) in sent.text
