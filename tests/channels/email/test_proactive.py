"""Messages the platform starts (survey links, rule notices) go out by SMS and email, once."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from centralita.channels.email.outbound import NotSent, Relay
from centralita.channels.models import AddressChannel
from centralita.channels.proactive import proactive_handlers
from centralita.channels.voice.provider import Provider
from centralita.config import Settings
from centralita.customers.models import Customer
from centralita.db.base import utcnow
from centralita.identity.permissions import Role
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.jobs.worker import MAX_ATTEMPTS
from centralita.outbound.models import OutboundMessage, OutboundStatus
from centralita.outbound.service import Texts, queue_message
from tests.channels.email.conftest import Sink, add_mailbox, unique_address
from tests.channels.telephony import (
    FakeProvider,
    add_number,
    new_number,
    serve_provider,
    signed_post,
)
from tests.conftest import TenantFixture


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    yield from serve_provider()


async def _customer(tenant: TenantFixture, email: str, phone: str) -> str:
    http = await tenant.client(Role.ADMIN)
    made = await http.post(
        tenant.url("/customers"),
        json={
            "display_name": "Lucía",
            "language": "es",
            "consent_email": True,
            "consent_sms": True,
            "identities": [{"kind": "email", "value": email}, {"kind": "phone", "value": phone}],
        },
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def _queue(tenant: TenantFixture, customer_id: str, channel: str) -> OutboundMessage:
    texts = Texts(body={"es": "¿Qué tal le atendimos?"}, subject={"es": "Su opinión"})
    async with tenant.db.tenant_session(tenant.id) as session:
        customer = (await session.execute(select(Customer))).scalars().one()
        assert str(customer.id) == customer_id
        queued = await queue_message(session, customer, texts, channel=channel, purpose="survey")
        await session.commit()
    assert queued is not None
    return queued


async def _run_jobs(
    tenant: TenantFixture, provider: FakeProvider, relay: Relay | None, attempts: int = 0
) -> None:
    """Run the queued sends as the job worker would, as attempt number ``attempts + 1``."""
    (send,) = proactive_handlers(Provider(provider.url), relay, "http://testserver").values()
    async with tenant.db.system_session() as session:
        jobs = await session.execute(select(Job).where(Job.kind == JobKind.OUTBOUND_SEND))
        for job in jobs.scalars().all():
            job.attempts = attempts
            try:
                async with session.begin_nested():
                    await send(session, job, utcnow())
            except NotSent:
                continue
            await session.delete(job)
        await session.commit()


async def _status(tenant: TenantFixture, message: OutboundMessage) -> tuple[str, str | None]:
    async with tenant.db.tenant_session(tenant.id) as session:
        row = await session.get(OutboundMessage, (tenant.id, message.id))
        assert row is not None
        return row.status, row.error


async def test_an_sms_goes_from_the_companys_number_and_an_email_from_its_mailbox(
    tenant_a: TenantFixture, provider: FakeProvider, sink: Sink, settings: Settings
) -> None:
    number = new_number()
    await add_number(tenant_a, AddressChannel.SMS, number, "general")
    mailbox = unique_address()
    await add_mailbox(tenant_a, mailbox)
    customer = await _customer(tenant_a, "lucia@cliente.example", "+34 600 111 222")
    relay = Relay.from_settings(
        settings.model_copy(update={"smtp_relay_host": "127.0.0.1", "smtp_relay_port": sink.port})
    )

    by_sms = await _queue(tenant_a, customer, "sms")
    by_email = await _queue(tenant_a, customer, "email")
    await _run_jobs(tenant_a, provider, relay)
    await _run_jobs(tenant_a, provider, relay)  # nothing is left to send twice

    (sms,) = [r for r in provider.requests if r["path"].endswith("/Messages.json")]
    assert sms["form"] == {
        "To": "+34600111222",
        "From": number,
        "Body": "¿Qué tal le atendimos?",
        "StatusCallback": f"http://testserver/telephony/sms/status?message={by_sms.id}",
    }
    assert sms["key"] == str(by_sms.id)
    ((envelope, mail),) = sink.received
    assert envelope.rcpt_tos == ["lucia@cliente.example"]
    assert mail["From"].addresses[0].addr_spec == mailbox
    assert mail["Subject"] == "Su opinión"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert await _status(tenant_a, by_sms) == (OutboundStatus.SENT, None)
    assert await _status(tenant_a, by_email) == (OutboundStatus.SENT, None)


async def test_a_message_with_no_way_out_is_marked_failed_with_the_reason(
    tenant_a: TenantFixture, provider: FakeProvider
) -> None:
    customer = await _customer(tenant_a, "pedro@cliente.example", "+34 600 333 444")

    by_sms = await _queue(tenant_a, customer, "sms")
    by_email = await _queue(tenant_a, customer, "email")
    await _run_jobs(tenant_a, provider, None)

    assert provider.requests == []
    assert await _status(tenant_a, by_sms) == (
        OutboundStatus.FAILED,
        "the company has no SMS number",
    )
    assert await _status(tenant_a, by_email) == (
        OutboundStatus.FAILED,
        "no SMTP relay is configured",
    )


async def test_a_voice_message_is_an_automated_call_and_reports_say_how_each_message_ended(
    tenant_a: TenantFixture, provider: FakeProvider, client: httpx.AsyncClient
) -> None:
    calling, texting = new_number(), new_number()
    await add_number(tenant_a, AddressChannel.VOICE, calling, "general")
    await add_number(tenant_a, AddressChannel.SMS, texting, "general")
    customer = await _customer(tenant_a, "rosa@cliente.example", "+34 600 555 666")

    by_voice = await _queue(tenant_a, customer, "voice")
    by_sms = await _queue(tenant_a, customer, "sms")
    await _run_jobs(tenant_a, provider, None)

    (call,) = [r for r in provider.requests if r["path"].endswith("/Calls.json")]
    assert (call["form"]["To"], call["form"]["From"]) == ("+34600555666", calling)
    assert call["key"] == str(by_voice.id)
    said = ET.fromstring(call["form"]["Twiml"]).find("Say")  # noqa: S314 - our own document
    assert said is not None
    assert (said.attrib["language"], said.text) == ("es-ES", "¿Qué tal le atendimos?")
    assert call["form"]["StatusCallback"] == (
        f"http://testserver/telephony/voice/message-status?message={by_voice.id}"
    )
    assert await _status(tenant_a, by_voice) == (OutboundStatus.SENT, None)

    answered = {"CallSid": "CA1", "CallStatus": "completed", "From": calling, "To": "+34600555666"}
    failed = {
        "MessageSid": "SM1",
        "MessageStatus": "undelivered",
        "ErrorCode": "30006",
        "From": texting,
        "To": "+34600555666",
    }
    for path, params in (
        (f"/telephony/voice/message-status?message={by_voice.id}", answered),
        (f"/telephony/sms/status?message={by_sms.id}", failed),
        (f"/telephony/sms/status?message={by_sms.id}", {**failed, "MessageStatus": "sent"}),
    ):
        assert (await signed_post(client, path, params)).status_code == 204

    assert await _status(tenant_a, by_voice) == (OutboundStatus.DELIVERED, None)
    assert await _status(tenant_a, by_sms) == (OutboundStatus.FAILED, "undelivered (error 30006)")


async def test_an_email_the_relay_never_takes_fails_on_its_last_attempt_and_never_goes_twice(
    tenant_a: TenantFixture, provider: FakeProvider, sink: Sink, settings: Settings
) -> None:
    await add_mailbox(tenant_a, unique_address())
    customer = await _customer(tenant_a, "eva@cliente.example", "+34 600 777 888")
    relay = Relay.from_settings(
        settings.model_copy(update={"smtp_relay_host": "127.0.0.1", "smtp_relay_port": sink.port})
    )
    by_email = await _queue(tenant_a, customer, "email")
    sink.refuse = True

    await _run_jobs(tenant_a, provider, relay)
    assert await _status(tenant_a, by_email) == (OutboundStatus.PENDING, None)
    await _run_jobs(tenant_a, provider, relay, attempts=MAX_ATTEMPTS - 1)

    status, error = await _status(tenant_a, by_email)
    assert status == OutboundStatus.FAILED
    assert (error or "").startswith("not sent:")
    assert "451" in (error or "")
    sink.refuse = False
    async with tenant_a.db.system_session() as session:
        schedule(session, JobKind.OUTBOUND_SEND, ref_id=by_email.id)
        await session.commit()
    await _run_jobs(tenant_a, provider, relay)
    assert sink.received == []
