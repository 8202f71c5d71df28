"""Polling an IMAP mailbox: each unseen message is stored, then marked seen on the server.

The standard library's ``imaplib`` runs in a worker thread so the event loop keeps serving. A
message is fetched with ``BODY.PEEK[]`` (which leaves it unseen) and flagged ``\\Seen`` only after
its transaction committed: a crash in between fetches it again next time, and the Message-ID makes
that second delivery store nothing.
"""

import asyncio
import imaplib
import logging
import ssl

from centralita.channels.email.intake import deliver, recipient_tenants
from centralita.config import Settings
from centralita.db.engine import Database

logger = logging.getLogger(__name__)

# At most this many messages per poll, so one full mailbox cannot hold the poller for long.
BATCH = 50


class ImapPoller:
    def __init__(self, db: Database, settings: Settings) -> None:
        if settings.imap_host is None or settings.imap_address is None:
            raise ValueError("IMAP polling needs CENTRALITA_IMAP_HOST and CENTRALITA_IMAP_ADDRESS")
        self.db = db
        self.settings = settings
        self.host = settings.imap_host
        self.address = settings.imap_address

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("email: polling %s failed; trying again", self.host)
            await asyncio.sleep(self.settings.imap_poll_seconds)

    async def poll(self) -> int:
        """Store the mailbox's unseen messages; how many were stored (or recognised)."""
        owners = await recipient_tenants(self.db, [self.address])
        if not owners:
            logger.warning("email: %s is no tenant's address; not polling", self.address)
            return 0
        connection = await asyncio.to_thread(self._connect)
        try:
            uids = await asyncio.to_thread(self._unseen, connection)
            for uid in uids[:BATCH]:
                raw = await asyncio.to_thread(self._fetch, connection, uid)
                if raw is None:
                    continue
                await deliver(self.db, raw, list(owners.values()), self.settings)
                await asyncio.to_thread(connection.uid, "STORE", uid, "+FLAGS", "(\\Seen)")
            return min(len(uids), BATCH)
        finally:
            await asyncio.to_thread(_close, connection)

    def _connect(self) -> imaplib.IMAP4:
        port = self.settings.imap_port
        connection = (
            imaplib.IMAP4_SSL(self.host, port, ssl_context=ssl.create_default_context())
            if self.settings.imap_ssl
            else imaplib.IMAP4(self.host, port)
        )
        connection.login(self.settings.imap_username or "", self.settings.imap_password or "")
        connection.select(self.settings.imap_folder)
        return connection

    @staticmethod
    def _unseen(connection: imaplib.IMAP4) -> list[str]:
        status, data = connection.uid("SEARCH", "UNSEEN")
        if status != "OK" or not data or not data[0]:
            return []
        return [uid.decode() for uid in data[0].split()]

    @staticmethod
    def _fetch(connection: imaplib.IMAP4, uid: str) -> bytes | None:
        status, data = connection.uid("FETCH", uid, "(BODY.PEEK[])")
        if status != "OK":
            return None
        for item in data:
            if isinstance(item, tuple) and isinstance(item[1], bytes):
                return item[1]
        return None


def _close(connection: imaplib.IMAP4) -> None:
    try:
        connection.logout()
    except (imaplib.IMAP4.error, OSError):
        logger.debug("email: IMAP logout failed", exc_info=True)
