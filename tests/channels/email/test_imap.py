"""IMAP polling against a real Dovecot (Debian's dovecot-imapd), started for the test."""

import asyncio
import imaplib
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from centralita.channels.email.imap import ImapPoller
from centralita.channels.email.models import EmailRecord
from centralita.config import Settings
from centralita.db.engine import Database
from centralita.tickets.models import Ticket
from tests.channels.email.conftest import add_mailbox, unique_address
from tests.conftest import TenantFixture

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "imap-test-secret"
CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
# Dovecot's system user owns the test mail; the default floor (500) would refuse it.
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Mailbox:
    port: int

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login("ayuda", PASSWORD)
        client.select("INBOX")
        return client

    def append(self, raw: bytes) -> None:
        client = self._client()
        try:
            client.append("INBOX", None, None, raw)
        finally:
            client.logout()

    def unseen(self) -> int:
        client = self._client()
        try:
            _, data = client.uid("SEARCH", "UNSEEN")
            return len(data[0].split())
        finally:
            client.logout()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            imaplib.IMAP4("127.0.0.1", port).logout()
        except OSError:
            time.sleep(0.2)
        else:
            return
    pytest.fail("Dovecot did not start listening")


def _configure(port: int) -> Path:
    """A directory with Dovecot's configuration; its own users must reach the mail folders."""
    root = Path(tempfile.mkdtemp(prefix="centralita-imap-"))
    root.chmod(0o755)
    for shared in ("mail", "home"):
        (root / shared).mkdir()
        (root / shared).chmod(0o777)
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, port=port, password=PASSWORD))
    return root


@pytest.fixture
async def dovecot() -> AsyncIterator[Mailbox]:
    if shutil.which("dovecot") is None and not await asyncio.to_thread(Path(DOVECOT).exists):
        pytest.skip("Debian's dovecot-imapd is not installed (make system-deps installs it)")
    port = _free_port()
    root = await asyncio.to_thread(_configure, port)
    config = root / "dovecot.conf"
    process = await asyncio.create_subprocess_exec(DOVECOT, "-F", "-c", str(config))
    try:
        await asyncio.to_thread(_wait_until_listening, port)
        yield Mailbox(port)
    finally:
        process.terminate()
        await process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _mail(box: str, message_id: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Marta Gil <marta@example.net>"
    mail["To"] = box
    mail["Subject"] = "Cambio de domicilio"
    mail["Message-ID"] = f"<{message_id}>"
    mail.set_content("Me he mudado: calle Mayor 5, Madrid.")
    return mail.as_bytes()


async def test_unseen_mail_is_stored_once_then_marked_seen(
    dovecot: Mailbox, db: Database, settings: Settings, tenant_a: TenantFixture
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    await asyncio.to_thread(dovecot.append, _mail(box, "imap-1@example.net"))
    # The same message delivered twice to the mailbox (a forward rule, a resend).
    await asyncio.to_thread(dovecot.append, _mail(box, "imap-1@example.net"))
    poller = ImapPoller(
        db,
        settings.model_copy(
            update={
                "imap_host": "127.0.0.1",
                "imap_port": dovecot.port,
                "imap_ssl": False,
                "imap_username": "ayuda",
                "imap_password": PASSWORD,
                "imap_address": box,
            }
        ),
    )

    assert await poller.poll() == 2

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        [ticket] = (await session.execute(select(Ticket))).scalars().all()
        [record] = (await session.execute(select(EmailRecord))).scalars().all()
    assert ticket.subject == "Cambio de domicilio"
    assert record.mailbox == box
    assert await asyncio.to_thread(dovecot.unseen) == 0
    assert await poller.poll() == 0
