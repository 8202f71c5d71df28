"""Fixtures of the email tests: a tenant's mailbox, our SMTP listener, an SMTP sink for mail out."""

import asyncio
import secrets
import smtplib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from centralita.channels import service as channels
from centralita.channels.email.smtp import start_listener
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.schemas import AddressCreate
from centralita.config import Settings
from centralita.customers.service import IdentityRules
from centralita.db.engine import Database
from tests.conftest import TEST_ACTOR, TenantFixture

CORPUS = Path(__file__).parent / "corpus"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def unique_address(local: str = "ayuda") -> str:
    """Addresses are unique across the platform, and the test database outlives one test."""
    return f"{local}-{secrets.token_hex(4)}@acme.example"


async def add_mailbox(tenant: TenantFixture, address: str, **settings: Any) -> ChannelAddress:
    rules = IdentityRules.for_tenant(tenant.tenant, "test-secret")
    async with tenant.db.tenant_session(tenant.id) as session:
        row = await channels.create_address(
            session,
            TEST_ACTOR,
            tenant.tenant,
            AddressCreate(
                channel=AddressChannel.EMAIL,
                address=address,
                display_name="Soporte",
                settings=settings,
            ),
            rules,
        )
        await session.commit()
        return row


@dataclass
class Listener:
    port: int

    def _send(self, raw: bytes, to: list[str], sender: str) -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            return client.sendmail(sender, to, raw)

    async def send(
        self, raw: bytes | EmailMessage, to: list[str], sender: str = "cliente@example.com"
    ) -> dict[str, tuple[int, bytes]]:
        """A real SMTP conversation from a blocking client in a thread; raises on refusal."""
        data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
        return await asyncio.to_thread(self._send, data, to, sender)


SIZE_LIMIT = 1_000_000


@pytest.fixture
def settings_limit() -> int:
    return SIZE_LIMIT


@pytest.fixture
async def listener(db: Database, settings: Settings) -> AsyncIterator[Listener]:
    settings = settings.model_copy(update={"email_max_bytes": SIZE_LIMIT})
    server = await start_listener(db, settings, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    yield Listener(port)
    server.close()
    await server.wait_closed()


@dataclass
class Sink:
    """An SMTP server our outbound mail is delivered to, as a relay would receive it."""

    port: int
    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.refuse:
            return "451 4.3.0 Try again later"
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
        self.received.append((envelope, message))
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [message for _, message in self.received]


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    box = Sink(0)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(box, decode_data=False, hostname="sink.test"), "127.0.0.1", 0
    )
    box.port = server.sockets[0].getsockname()[1]
    yield box
    server.close()
    await server.wait_closed()
