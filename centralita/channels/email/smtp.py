"""The built-in SMTP listener: mail for a tenant's address is stored before the ``250`` reply.

A recipient that is no tenant's address is refused at ``RCPT`` (550), so the sending server bounces
it to its author. A message over the size limit is refused at ``DATA`` (552). A failure while
storing answers 451, so the sender tries again later, and the retry is recognised by Message-ID.
"""

import asyncio
import logging
import time
from functools import partial

from aiosmtpd.smtp import SMTP, Envelope, Session

from centralita.channels.email.intake import deliver, recipient_tenants
from centralita.channels.models import ChannelAddress
from centralita.config import Settings
from centralita.db.engine import Database

logger = logging.getLogger(__name__)


# Who owns an address is asked at RCPT and again at DATA for every message: kept this long.
OWNER_TTL_SECONDS = 10.0
MAX_CACHED = 10_000


class Handler:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._owners: dict[str, tuple[float, ChannelAddress | None]] = {}

    async def owners(self, recipients: list[str]) -> list[ChannelAddress]:
        """The owned addresses among ``recipients``; an address added or removed counts within
        ``OWNER_TTL_SECONDS``."""
        now = time.monotonic()
        found = []
        for recipient in recipients:
            key = recipient.strip().lower()
            cached = self._owners.get(key)
            if cached is None or now - cached[0] > OWNER_TTL_SECONDS:
                row = (await recipient_tenants(self.db, [key])).get(key)
                if len(self._owners) > MAX_CACHED:
                    self._owners.clear()
                cached = self._owners[key] = (now, row)
            if cached[1] is not None:
                found.append(cached[1])
        return found

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not await self.owners([address]):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        try:
            owners = await self.owners(list(envelope.rcpt_tos))
            outcomes = await deliver(self.db, raw, owners, self.settings)
        except Exception:
            logger.exception("email: storing a message from %s failed", envelope.mail_from)
            return "451 4.3.0 Could not store the message; try again later"
        if not outcomes:
            return "554 5.1.1 No valid recipients"
        return "250 2.0.0 Stored"


async def start_listener(
    db: Database, settings: Settings, *, host: str | None = None, port: int | None = None
) -> asyncio.Server:
    """Serve SMTP on the running loop (port 0: an ephemeral port, see ``server.sockets``)."""
    handler = Handler(db, settings)
    factory = partial(
        SMTP,
        handler,
        data_size_limit=settings.email_max_bytes,
        # The raw bytes are what is stored: no decoding into str on the way in.
        decode_data=False,
        # Internationalised addresses and headers (RFC 6531) arrive as sent.
        enable_SMTPUTF8=True,
        hostname=settings.email_domain,
        ident="centralita",
    )
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        factory,
        host=host or settings.smtp_listen_host,
        port=settings.smtp_listen_port if port is None else port,
        # Several `centralita run --workers` processes share the port.
        reuse_port=True,
    )
