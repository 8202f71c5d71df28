"""The transcript job over a real SMTP conversation, and the widget's script and page."""

import socket
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from centralita.channels.chat import service
from centralita.channels.chat.transcript import transcript_handlers
from centralita.channels.email.outbound import Relay
from centralita.config import Settings
from centralita.customers.service import IdentityRules
from centralita.db.base import utcnow
from centralita.interactions import service as interactions
from centralita.interactions.schemas import MessageIn
from centralita.jobs.models import Job, JobKind
from tests.channels.chat.conftest import add_widget
from tests.conftest import TEST_ACTOR, TenantFixture


class Sink:
    def __init__(self) -> None:
        self.mail: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd calls it by this name
        assert isinstance(envelope.content, bytes)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mail.append(parsed)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_requested_transcript_is_mailed_in_the_chat_language(
    tenant_a: TenantFixture, settings: Settings
) -> None:
    address = await add_widget(tenant_a, None)
    mailbox = await (await tenant_a.client()).post(
        tenant_a.url("/channel-addresses"), json={"channel": "email", "address": "hola@a.example"}
    )
    assert mailbox.status_code == 201, mailbox.text
    rules = IdentityRules.for_tenant(tenant_a.tenant, settings.secret_key)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        received = await service.start(
            session,
            tenant_a.tenant,
            address,
            rules,
            visitor_id="v-transcript",
            conversation_ref="chat-transcript",
            form=service.PreChat("Ana", "ana@example.com", None, "¿Abrís el sábado?", "es"),
            client_id="c1",
        )
        await interactions.add_message(
            session,
            TEST_ACTOR,
            received.interaction.id,
            MessageIn(author_kind="agent", text="Sí, de 10 a 14"),
        )
        await interactions.add_message(
            session,
            TEST_ACTOR,
            received.interaction.id,
            MessageIn(author_kind="note", text="nota interna: cliente VIP"),
        )
        service.request_transcript(session, received.interaction)
        await session.commit()
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        configured = settings.model_copy(
            update={"smtp_relay_host": "127.0.0.1", "smtp_relay_port": port}
        )
        relay = Relay.from_settings(configured)
        assert relay is not None
        (handler,) = transcript_handlers(relay).values()
        async with tenant_a.db.system_session() as session:
            job = (
                await session.execute(
                    select(Job).where(
                        Job.kind == JobKind.CHAT_TRANSCRIPT,
                        Job.ref_id == received.interaction.id,
                    )
                )
            ).scalar_one()
            await handler(session, job, utcnow())
            # Done, as the worker would: no later worker in this database sends it again.
            await session.delete(job)
            await session.commit()
    finally:
        controller.stop()
    (mail,) = sink.mail
    assert mail["To"] == "ana@example.com"
    assert mail["From"].addresses[0].addr_spec == "hola@a.example"
    assert mail["Subject"] == f"Tu chat con {tenant_a.tenant.name}"
    assert mail["Auto-Submitted"] == "auto-generated"
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None
    body = plain.get_content()
    assert "Yo: ¿Abrís el sábado?" in body
    assert "Agente: Sí, de 10 a 14" in body
    assert "VIP" not in body


async def test_the_widget_script_is_served_per_tenant_with_its_texts(
    client: httpx.AsyncClient, tenant_a: TenantFixture, make_tenant
) -> None:
    await add_widget(tenant_a, None)
    script = await client.get(f"/chat/{tenant_a.slug}/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert '"Chatea con nosotros"' in script.text
    assert '"Chat with us"' in script.text
    assert f'"slug":"{tenant_a.slug}"' in script.text
    style = await client.get(f"/chat/{tenant_a.slug}/widget.css")
    assert style.headers["content-type"].startswith("text/css")
    page = await client.get(f"/chat/{tenant_a.slug}")
    assert f"/chat/{tenant_a.slug}/widget.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    bare = await make_tenant(name="Sin chat")
    for path in (f"/chat/{bare.slug}/widget.js", f"/chat/no-such-{uuid.uuid4().hex[:6]}/widget.js"):
        missing = await client.get(path)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
