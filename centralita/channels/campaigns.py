"""The campaign dispatcher: claims due campaign contacts and sends them, SMS and automated voice
messages by the provider's REST and email through the relay; agent calls became callbacks when
they were claimed. When nothing more is due it finishes the campaigns that have no contact left.

A batch is claimed and committed first (the contacts marked ``sending`` with a lease), then sent
concurrently outside any transaction, then the outcomes are written in one statement. Each SMS
carries its contact's idempotency key, the same on every attempt: when a dispatcher dies after
sending and before recording, the contacts it held are claimed again once their lease lapses and
the provider recognises the repeats, so nobody gets the message twice; an automated call (the
message spoken by ``<Say>`` in the customer's language) goes the same way. Texts and calls name
the contact in their status callback, whose reports give the result (delivered, answered, busy
...). An email's Message-ID is derived from the contact and sent once (``send_once``), as every
other email of the platform; a relay that fails is tried again with back-off, and on the last
attempt the contact fails with the relay's reason.
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
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
    finish_campaigns,
    idempotency_key,
    record_outcomes,
)
from centralita.channels.email.models import EmailStatus
from centralita.channels.email.outbound import NotSent, Outgoing, Relay, send_once
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.reports import ReportTarget, reports_base, status_callback_url
from centralita.channels.voice.provider import (
    TIMEOUT_S,
    Messages,
    Provider,
    ProviderError,
    has_account,
)
from centralita.channels.voice.twiml import TwiML
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
        reports: str | None = None,
    ) -> None:
        """``reports``: the base URL of the provider's status callbacks (None: no reports)."""
        self.db = db
        self.reports = reports
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
            tenant_ids = {s.tenant_id for s in claimed.sends}
            texting = await _numbers(session, AddressChannel.SMS, tenant_ids)
            calling = await _numbers(session, AddressChannel.VOICE, tenant_ids)
            tenants = await _tenants(session, tenant_ids)
            await session.commit()
        by_channel: dict[ContactChannel, list[Send]] = {c: [] for c in ContactChannel}
        for send in claimed.sends:
            by_channel[send.channel].append(send)
        outcomes = await asyncio.gather(
            *(self._sms(s, texting.get(s.tenant_id)) for s in by_channel[ContactChannel.SMS]),
            *(
                self._announce(s, calling.get(s.tenant_id))
                for s in by_channel[ContactChannel.VOICE_MESSAGE]
            ),
        )
        if outcomes:
            async with self.db.system_session() as session:
                await record_outcomes(session, outcomes, self.clock(), retry_in=RETRY_IN)
                await session.commit()
        await asyncio.gather(
            *(self._email(s, tenants[s.tenant_id], now) for s in by_channel[ContactChannel.EMAIL])
        )
        if claimed.contacts < self.batch_size:
            # Nothing more is due now: campaigns with no contact left to send are finished.
            async with self.db.system_session() as session:
                await finish_campaigns(session, self.clock())
                await session.commit()
        return claimed.contacts

    def _status_callback(self, send: Send, channel: str) -> str | None:
        if self.reports is None:
            return None
        return status_callback_url(self.reports, channel, ReportTarget(contact=send.contact_id))

    async def _sms(self, send: Send, number: ChannelAddress | None) -> Outcome:
        if number is None:
            error = "the company has no SMS number"
            return Outcome(send.contact_id, send.tenant_id, send.to_address, error=error)
        async with self._slots:
            try:
                sid = await self.messages.message(
                    number,
                    send.to_address,
                    send.body,
                    idempotency_key(send.contact_id),
                    self._status_callback(send, "sms"),
                )
            except ProviderError as exc:
                return _failure(send, exc)
        return Outcome(send.contact_id, send.tenant_id, send.to_address, provider_ref=sid)

    async def _announce(self, send: Send, number: ChannelAddress | None) -> Outcome:
        """An automated call that speaks the message in the customer's language."""
        if number is None:
            error = "the company has no phone number with a provider account"
            return Outcome(send.contact_id, send.tenant_id, send.to_address, error=error)
        twiml = TwiML().say(send.body, send.language).document()
        async with self._slots:
            try:
                sid = await self.messages.announce(
                    number,
                    send.to_address,
                    twiml,
                    idempotency_key(send.contact_id),
                    self._status_callback(send, "voice"),
                )
            except ProviderError as exc:
                return _failure(send, exc)
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
                last = send.attempts >= MAX_ATTEMPTS
                try:
                    record = await send_once(session, self.relay, outgoing, now, last_attempt=last)
                except NotSent as exc:
                    logger.warning("campaigns: email to %s not sent: %s", send.to_address, exc)
                    await _retry_later(session, send, str(exc), now)
                    await session.commit()
                    return
                if record.status != EmailStatus.SENT:
                    status, error = ContactStatus.FAILED, record.reason or str(record.status)
            await session.execute(
                update(CampaignContact)
                .where(CampaignContact.id == send.contact_id)
                .values(status=status, error=error, to_address=send.to_address)
            )
            await session.commit()


def _failure(send: Send, exc: ProviderError) -> Outcome:
    """A refused send: tried again later, unless that was its last attempt."""
    final = send.attempts >= MAX_ATTEMPTS
    return Outcome(send.contact_id, send.tenant_id, send.to_address, error=str(exc), final=final)


def retry_delay(attempts: int) -> timedelta:
    """Back-off after ``attempts`` failed tries: 30 s, 1 min, 2 min, 4 min ..."""
    return RETRY_IN * int(2 ** max(attempts - 1, 0))


async def _retry_later(session: AsyncSession, send: Send, error: str, now: datetime) -> None:
    """The contact stays claimed (``sending``) until its next try, which takes it again."""
    await session.execute(
        update(CampaignContact)
        .where(
            CampaignContact.id == send.contact_id,
            CampaignContact.status == ContactStatus.SENDING,
        )
        .values(error=error[:300], due_at=now + retry_delay(send.attempts))
    )


@asynccontextmanager
async def pooled_provider(base_url: str, connections: int = CONCURRENCY) -> AsyncIterator[Provider]:
    """The provider over a kept-alive connection pool, closed on leaving."""
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
    ) as http:
        yield Provider(base_url, http)


async def run_campaign_dispatcher(db: Database, settings: Settings) -> None:
    """The application's dispatcher, until cancelled."""
    async with pooled_provider(settings.telephony_api_base_url) as messages:
        await CampaignDispatcher(
            db,
            messages,
            Relay.from_settings(settings),
            UnsubscribeLinks(settings.secret_key, settings.public_url),
            reports=reports_base(settings),
        ).run()


async def _numbers(
    session: AsyncSession, channel: AddressChannel, tenant_ids: set[uuid.UUID]
) -> dict[uuid.UUID, ChannelAddress]:
    """Each tenant's first number of the channel with a provider account: its sending one."""
    if not tenant_ids:
        return {}
    query = (
        select(ChannelAddress)
        .where(ChannelAddress.channel == channel, ChannelAddress.tenant_id.in_(tenant_ids))
        .order_by(ChannelAddress.created_at, ChannelAddress.id)
    )
    numbers: dict[uuid.UUID, ChannelAddress] = {}
    for row in (await session.execute(query)).scalars():
        if has_account(row):
            numbers.setdefault(row.tenant_id, row)
    return numbers


async def _tenants(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> dict[uuid.UUID, Tenant]:
    if not tenant_ids:
        return {}
    rows = await session.execute(select(Tenant).where(Tenant.id.in_(tenant_ids)))
    return {t.id: t for t in rows.scalars()}
