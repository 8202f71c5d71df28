"""The campaign dispatcher: claims due campaign contacts and sends them, SMS by the provider's
REST and email through the relay; agent calls became callbacks when they were claimed.

A batch is claimed and committed first (the contacts marked ``sending`` with a lease), then sent
concurrently outside any transaction, then the outcomes are written in one statement. Each SMS
carries its contact's idempotency key, the same on every attempt: when a dispatcher dies after
sending and before recording, the contacts it held are claimed again once their lease lapses and
the provider recognises the repeats, so nobody gets the message twice. An email's Message-ID is
derived from the contact and sent once (``send_once``), as every other email of the platform.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.campaigns.consent import UnsubscribeLinks
from centralita.campaigns.models import CampaignContact, ContactChannel, ContactStatus
from centralita.campaigns.service import (
    LEASE,
    Outcome,
    Send,
    claim_contacts,
    idempotency_key,
    record_outcomes,
)
from centralita.channels.email.models import EmailStatus
from centralita.channels.email.outbound import Outgoing, Relay, send_once
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.voice.provider import TIMEOUT_S, Messages, PooledMessages, ProviderError
from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.tenancy.models import Tenant

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
CONCURRENCY = 32
IDLE_SECONDS = 1.0
MAX_ATTEMPTS = 5
RETRY_IN = timedelta(seconds=30)
UNSUBSCRIBE_TEXT = {
    "es": "Para no recibir más mensajes como este: {url}",
    "en": "To stop receiving messages like this one: {url}",
}


class CampaignDispatcher:
    def __init__(
        self,
        db: Database,
        messages: Messages,
        relay: Relay | None,
        links: UnsubscribeLinks,
        *,
        batch_size: int = BATCH_SIZE,
        concurrency: int = CONCURRENCY,
        lease: timedelta = LEASE,
        clock: Callable[[], datetime] = utcnow,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.db = db
        self.messages = messages
        self.relay = relay
        self.links = links
        self.batch_size = batch_size
        self.lease = lease
        self.clock = clock
        self.idle_seconds = idle_seconds
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self) -> None:
        """Dispatch until cancelled; sleep only when nothing was due."""
        while True:
            try:
                done = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("campaigns: a batch failed; trying again")
                done = 0
            if done == 0:
                await asyncio.sleep(self.idle_seconds)

    async def step(self) -> int:
        """Claim, send and record one batch; how many contacts were decided."""
        now = self.clock()
        async with self.db.system_session() as session:
            claimed = await claim_contacts(session, now, limit=self.batch_size, lease=self.lease)
            numbers = await _sms_numbers(session, {s.tenant_id for s in claimed.sends})
            tenants = await _tenants(session, {s.tenant_id for s in claimed.sends})
            await session.commit()
        texts = [s for s in claimed.sends if s.channel == ContactChannel.SMS]
        emails = [s for s in claimed.sends if s.channel == ContactChannel.EMAIL]
        outcomes = await asyncio.gather(*(self._sms(s, numbers.get(s.tenant_id)) for s in texts))
        if outcomes:
            async with self.db.system_session() as session:
                await record_outcomes(session, outcomes, self.clock(), retry_in=RETRY_IN)
                await session.commit()
        await asyncio.gather(*(self._email(s, tenants[s.tenant_id], now) for s in emails))
        return claimed.contacts

    async def _sms(self, send: Send, number: ChannelAddress | None) -> Outcome:
        if number is None:
            error = "the company has no SMS number"
            return Outcome(send.contact_id, send.tenant_id, send.to_address, error=error)
        async with self._slots:
            try:
                sid = await self.messages.message(
                    number, send.to_address, send.body, key=idempotency_key(send.contact_id)
                )
            except ProviderError as exc:
                final = send.attempts >= MAX_ATTEMPTS
                return Outcome(
                    send.contact_id, send.tenant_id, send.to_address, error=str(exc), final=final
                )
        return Outcome(send.contact_id, send.tenant_id, send.to_address, provider_ref=sid)

    async def _email(self, send: Send, tenant: Tenant, now: datetime) -> None:
        """One email in its own transaction, with the contact's result written alongside."""
        async with self._slots, self.db.tenant_session(send.tenant_id) as session:
            status, error = ContactStatus.SENT, None
            if self.relay is None:
                status, error = ContactStatus.FAILED, "no SMTP relay is configured"
            else:
                token = self.links.token(send.tenant_id, send.customer_id, send.campaign_id)
                url = self.links.url(tenant.slug, token)
                footer = UNSUBSCRIBE_TEXT.get(send.language, UNSUBSCRIBE_TEXT["en"])
                outgoing = Outgoing(
                    tenant=tenant,
                    message_id=self.relay.message_id("campaign", send.contact_id),
                    customer_id=send.customer_id,
                    subject=send.subject or tenant.name,
                    text=f"{send.body}\n\n{footer.format(url=url)}",
                    html=None,
                    automatic="auto-generated",
                    headers={
                        "List-Unsubscribe": f"<{url}>",
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    },
                )
                try:
                    record = await send_once(session, self.relay, outgoing, now)
                except OSError as exc:
                    # The relay cannot be reached: the lease lapses and the mail is tried again.
                    logger.warning("campaigns: email to %s not sent: %s", send.to_address, exc)
                    return
                if record.status != EmailStatus.SENT:
                    status, error = ContactStatus.FAILED, record.reason or str(record.status)
            await session.execute(
                update(CampaignContact)
                .where(CampaignContact.id == send.contact_id)
                .values(status=status, error=error, to_address=send.to_address)
            )
            await session.commit()


def pooled_messages(base_url: str, connections: int = CONCURRENCY) -> PooledMessages:
    """A kept-alive connection pool to the provider (call from a running event loop)."""
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
    )
    return PooledMessages(base_url, http)


async def run_campaign_dispatcher(db: Database, settings: Settings) -> None:
    """The application's dispatcher, until cancelled."""
    messages = pooled_messages(settings.telephony_api_base_url)
    try:
        await CampaignDispatcher(
            db,
            messages,
            Relay.from_settings(settings),
            UnsubscribeLinks(settings.secret_key, settings.public_url),
        ).run()
    finally:
        await messages.http.close()


async def _sms_numbers(
    session: AsyncSession, tenant_ids: set[object]
) -> dict[object, ChannelAddress]:
    """Each tenant's first SMS number, the one its messages go out from."""
    if not tenant_ids:
        return {}
    query = (
        select(ChannelAddress)
        .where(
            ChannelAddress.channel == AddressChannel.SMS, ChannelAddress.tenant_id.in_(tenant_ids)
        )
        .order_by(ChannelAddress.created_at, ChannelAddress.id)
    )
    numbers: dict[object, ChannelAddress] = {}
    for row in (await session.execute(query)).scalars():
        numbers.setdefault(row.tenant_id, row)
    return numbers


async def _tenants(session: AsyncSession, tenant_ids: set[object]) -> dict[object, Tenant]:
    if not tenant_ids:
        return {}
    rows = await session.execute(select(Tenant).where(Tenant.id.in_(tenant_ids)))
    return {t.id: t for t in rows.scalars()}
