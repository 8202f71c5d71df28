"""The built-in SMTP listener: mail for a tenant's address is stored before the ``250`` reply.

A recipient that is no tenant's address is refused at ``RCPT`` (550), so the sending server bounces
it to its author. A message over the size limit is refused at ``DATA`` (552). A failure while
storing answers 451, so the sender tries again later, and the retry is recognised by Message-ID.
"""

import asyncio
import logging
from functools import partial

from aiosmtpd.smtp import SMTP, Envelope, Session

from centralita.channels.email.intake import deliver, recipient_tenants
from centralita.config import Settings
from centralita.db.engine import Database

logger = logging.getLogger(__name__)


class Handler:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not await recipient_tenants(self.db, [address]):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        try:
            owners = await recipient_tenants(self.db, list(envelope.rcpt_tos))
            outcomes = await deliver(self.db, raw, list(owners.values()), self.settings)
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
