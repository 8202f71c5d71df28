"""Sends webhook deliveries: leased from the job table, attempted concurrently, retried durably.

A due ``webhooks.delivery`` job is *leased* rather than deleted: its ``due_at`` moves a minute
ahead and the claim commits before any HTTP request, so no database transaction waits on a slow
receiver, and a process that dies mid-attempt leaves the job to come due again (at-least-once;
receivers deduplicate on ``webhook-id``). Each attempt then records its outcome in its own short
transaction: delivered (job deleted), or the next attempt's time (job moved), or given up.

Attempts run concurrently up to ``webhook_concurrency``; an endpoint that keeps failing trips its
circuit breaker, and its backlog waits without being attempted until the breaker closes, so one
dead receiver neither slows the others nor is hammered. Nothing is dropped while a receiver is
down: deliveries are retried with exponential back-off and jitter for ``webhook_retry_hours``.
"""

import asyncio
import ipaddress
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from pydantic_core import to_json
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.config import Settings
from centralita.db.base import utcnow
from centralita.db.engine import Database
from centralita.jobs.models import Job, JobKind
from centralita.webhooks import ssrf
from centralita.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from centralita.webhooks.policy import (
    BREAKER_THRESHOLD,
    REDIRECTS,
    Outcome,
    breaker_open_for,
    parse_retry_after,
    retry_delay,
)
from centralita.webhooks.service import stop_subscription
from centralita.webhooks.signing import signed_headers

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
IDLE_SECONDS = 0.5
RECORD_EVERY_SECONDS = 0.05
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class Attempt:
    """One leased delivery, with everything needed to send it outside any transaction."""

    job_id: int
    delivery_id: uuid.UUID
    subscription_key: tuple[uuid.UUID, uuid.UUID]
    url: str
    secret: str
    message_id: str
    body: bytes
    at: datetime
    # No failures counted and no breaker: a success need not touch the subscription row, which
    # concurrent deliveries to the endpoint would otherwise all wait for.
    endpoint_healthy: bool


def _pinned(target: ssrf.Target) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL with the checked address in place of the host, the Host header, the TLS name."""
    parts = urlsplit(target.url)
    address = target.address
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    url = urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return url, {"host": host_header}, extensions


class WebhookDispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.rng = rng or random.Random()
        self.allow_loopback = settings.webhooks_allow_loopback
        self.retry_for = timedelta(hours=settings.webhook_retry_hours)
        self.concurrency = settings.webhook_concurrency
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"user-agent": "centralita-webhooks"},
            limits=httpx.Limits(max_connections=settings.webhook_concurrency),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def run(self) -> None:
        """Attempt due deliveries until cancelled, keeping up to ``concurrency`` in flight.

        Outcomes are recorded in batches, whatever has finished each time round, so a busy
        dispatcher commits a few times a second rather than once per delivery.
        """
        in_flight: set[asyncio.Task[tuple[Attempt, Outcome]]] = set()
        try:
            while True:
                leased: list[Attempt] = []
                free = self.concurrency - len(in_flight)
                if free > 0:
                    try:
                        leased = await self.lease(free)
                    except Exception:
                        logger.exception("webhooks: leasing failed; trying again")
                in_flight.update(asyncio.create_task(self._send(a)) for a in leased)
                if not in_flight:
                    await asyncio.sleep(IDLE_SECONDS)
                    continue
                done, in_flight = await asyncio.wait(
                    in_flight,
                    timeout=RECORD_EVERY_SECONDS if leased else IDLE_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                await self._record_safely([task.result() for task in done])
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await self.aclose()

    async def step(self) -> int:
        """Lease one batch of due deliveries, attempt them all, record; how many were leased."""
        leased = await self.lease(self.concurrency)
        await self._record_safely(list(await asyncio.gather(*(self._send(a) for a in leased))))
        return len(leased)

    async def lease(self, limit: int) -> list[Attempt]:
        """Lease due jobs and read what to send; settle those with nothing to send now."""
        now = self.clock()
        async with self.db.system_session() as session:
            query = (
                select(Job.id, Job.ref_id)
                .where(Job.kind == JobKind.WEBHOOK_DELIVERY, Job.due_at <= now)
                .order_by(Job.due_at, Job.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            jobs = {ref: job_id for job_id, ref in await session.execute(query) if ref}
            if not jobs:
                await session.commit()
                return []
            await session.execute(
                update(Job)
                .where(Job.id.in_(list(jobs.values())))
                .values(due_at=now + LEASE, attempts=Job.attempts + 1)
            )
            deliveries = list(
                (
                    await session.execute(
                        select(WebhookDelivery).where(WebhookDelivery.id.in_(list(jobs)))
                    )
                ).scalars()
            )
            keys = {(d.tenant_id, d.subscription_id) for d in deliveries}
            subscriptions = {
                (s.tenant_id, s.id): s
                for s in (
                    await session.execute(
                        select(WebhookSubscription).where(
                            WebhookSubscription.id.in_([key[1] for key in keys])
                        )
                    )
                ).scalars()
            }
            found = {d.id: d for d in deliveries}
            attempts = []
            for delivery_id, job_id in jobs.items():
                delivery = found.get(delivery_id)
                subscription = (
                    subscriptions.get((delivery.tenant_id, delivery.subscription_id))
                    if delivery is not None
                    else None
                )
                attempt = await self._settle_or_prepare(
                    session, job_id, delivery, subscription, now
                )
                if attempt is not None:
                    attempts.append(attempt)
            await session.commit()
        return attempts

    async def _settle_or_prepare(
        self,
        session: AsyncSession,
        job_id: int,
        delivery: WebhookDelivery | None,
        subscription: WebhookSubscription | None,
        now: datetime,
    ) -> Attempt | None:
        """What to send for one leased job, or None once its job is settled without sending."""
        if delivery is None or subscription is None or delivery.status != DeliveryStatus.PENDING:
            await session.execute(delete(Job).where(Job.id == job_id))
            return None
        if not subscription.active:
            self._give_up(delivery, "the subscription is not active")
            await session.execute(delete(Job).where(Job.id == job_id))
            return None
        open_until = subscription.breaker_open_until
        if open_until is not None and open_until > now:
            # Not attempted, not counted: the endpoint rests until its breaker half-opens.
            wait = open_until + timedelta(seconds=self.rng.uniform(0, 5))
            delivery.next_attempt_at = wait
            await session.execute(update(Job).where(Job.id == job_id).values(due_at=wait))
            return None
        return Attempt(
            job_id=job_id,
            delivery_id=delivery.id,
            subscription_key=(subscription.tenant_id, subscription.id),
            url=subscription.url,
            secret=subscription.secret,
            message_id=str(delivery.event_id),
            body=to_json(delivery.payload),
            at=now,
            endpoint_healthy=subscription.consecutive_failures == 0 and open_until is None,
        )

    async def _send(self, attempt: Attempt) -> tuple[Attempt, Outcome]:
        try:
            outcome = await self.send(
                attempt.url, attempt.secret, attempt.message_id, attempt.body, attempt.at
            )
        except Exception as exc:  # recorded as a failed attempt, and retried
            logger.exception("webhooks: sending delivery %s failed", attempt.delivery_id)
            outcome = Outcome(error=f"{type(exc).__name__}: {exc}"[:300])
        return attempt, outcome

    async def _record_safely(self, outcomes: list[tuple[Attempt, Outcome]]) -> None:
        if not outcomes:
            return
        try:
            await self.record(outcomes)
        except Exception:
            # Unrecorded attempts come due again when their lease runs out.
            logger.exception("webhooks: recording %d outcomes failed", len(outcomes))

    async def send(
        self, url: str, secret: str, message_id: str, body: bytes, now: datetime
    ) -> Outcome:
        headers = signed_headers(secret, message_id, int(now.timestamp()), body)
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                target = await ssrf.resolve(url, allow_loopback=self.allow_loopback)
            except ssrf.UnsafeUrl as exc:
                return Outcome(error=str(exc), blocked=True)
            pinned, host, extensions = _pinned(target)
            try:
                async with self.client.stream(
                    "POST", pinned, content=body, headers={**headers, **host}, extensions=extensions
                ) as response:
                    status, location = response.status_code, response.headers.get("location")
                    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
            except httpx.HTTPError as exc:
                return Outcome(error=f"{type(exc).__name__}: {exc}"[:300])
            if status in REDIRECTS and location:
                url = urljoin(url, location)
                continue
            return Outcome(status_code=status, retry_after=retry_after)
        return Outcome(error="too many redirects")

    @staticmethod
    def _give_up(delivery: WebhookDelivery, reason: str) -> None:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        delivery.last_error = reason[:300]

    async def record(self, outcomes: list[tuple[Attempt, Outcome]]) -> None:
        """Write the outcomes of finished attempts, in one transaction."""
        async with self.db.system_session() as session:
            for attempt, outcome in outcomes:
                await self._record_one(session, attempt, outcome)
            await session.commit()

    async def _record_one(self, session: AsyncSession, attempt: Attempt, outcome: Outcome) -> None:
        now, job_id = attempt.at, attempt.job_id
        query = select(WebhookDelivery).where(WebhookDelivery.id == attempt.delivery_id)
        delivery = (await session.execute(query.with_for_update())).scalar_one_or_none()
        if delivery is None:
            await session.execute(delete(Job).where(Job.id == job_id))
            return
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        key = attempt.subscription_key
        done = True
        if outcome.delivered:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            if not attempt.endpoint_healthy:
                await self._endpoint_healthy(session, key)
        elif outcome.status_code == 410:
            self._give_up(delivery, "the receiver answered 410 Gone: subscription stopped")
            await stop_subscription(session, delivery.subscription_id, "gone")
        elif outcome.blocked:
            self._give_up(delivery, outcome.error or "blocked address")
        elif now - delivery.created_at >= self.retry_for:
            self._give_up(delivery, f"retries exhausted; last: {self._describe(outcome)}")
            await self._endpoint_failed(session, key, now)
        else:
            done = False
            delay = outcome.retry_after or retry_delay(delivery.attempts, self.rng)
            delivery.next_attempt_at = now + delay
            delivery.last_error = self._describe(outcome)
            await session.execute(update(Job).where(Job.id == job_id).values(due_at=now + delay))
            await self._endpoint_failed(session, key, now)
        if done:
            await session.execute(delete(Job).where(Job.id == job_id))

    @staticmethod
    def _describe(outcome: Outcome) -> str:
        if outcome.status_code is not None:
            return f"HTTP {outcome.status_code}"
        return (outcome.error or "no answer")[:300]

    @staticmethod
    async def _endpoint_healthy(session: AsyncSession, key: tuple[uuid.UUID, uuid.UUID]) -> None:
        await session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.tenant_id == key[0], WebhookSubscription.id == key[1])
            .values(consecutive_failures=0, breaker_trips=0, breaker_open_until=None)
        )

    @staticmethod
    async def _endpoint_failed(
        session: AsyncSession, key: tuple[uuid.UUID, uuid.UUID], now: datetime
    ) -> None:
        """Count the failure; enough in a row open the breaker, for longer each time it trips.

        Failures stay counted when the breaker half-opens, so one failed probe re-opens it.
        """
        query = select(WebhookSubscription).where(
            WebhookSubscription.tenant_id == key[0], WebhookSubscription.id == key[1]
        )
        subscription = (await session.execute(query.with_for_update())).scalar_one_or_none()
        if subscription is None:
            return
        subscription.consecutive_failures += 1
        open_until = subscription.breaker_open_until
        resting = open_until is not None and open_until > now
        if subscription.consecutive_failures >= BREAKER_THRESHOLD and not resting:
            subscription.breaker_trips += 1
            subscription.breaker_open_until = now + breaker_open_for(subscription.breaker_trips)
            logger.warning(
                "webhooks: endpoint %s failing, resting until %s",
                subscription.url,
                subscription.breaker_open_until,
            )
