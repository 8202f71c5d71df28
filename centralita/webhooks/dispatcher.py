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
import email.utils
import ipaddress
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from centralita.webhooks.service import stop_subscription
from centralita.webhooks.signing import signed_headers

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
IDLE_SECONDS = 0.5
MAX_REDIRECTS = 3
FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(hours=24)
BREAKER_THRESHOLD = 5
BREAKER_FIRST_OPEN = timedelta(seconds=30)
BREAKER_MAX_OPEN = timedelta(minutes=30)
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def retry_delay(failures: int, rng: random.Random) -> timedelta:
    """Exponential back-off with jitter after ``failures`` failed attempts (5 s, 10 s ... 1 h).

    The jitter (between half and all of the step) spreads the retries of many deliveries that
    failed together, so a receiver coming back is not met by all of them at one instant.
    """
    step: timedelta = min(FIRST_RETRY * 2 ** (failures - 1), MAX_RETRY)
    return step * rng.uniform(0.5, 1.0)


def breaker_open_for(trips: int) -> timedelta:
    opened: timedelta = min(BREAKER_FIRST_OPEN * 2 ** (trips - 1), BREAKER_MAX_OPEN)
    return opened


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = when - now
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None
    # The URL (or a redirect) led to an address webhooks may not reach.
    blocked: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


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
        """Attempt due deliveries until cancelled, keeping up to ``concurrency`` in flight."""
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while True:
                free = self.concurrency - len(in_flight)
                leased: list[tuple[int, uuid.UUID]] = []
                if free > 0:
                    try:
                        leased = await self.lease(free)
                    except Exception:
                        logger.exception("webhooks: leasing failed; trying again")
                for job_id, delivery_id in leased:
                    task = asyncio.create_task(self.attempt(job_id, delivery_id))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if not leased:
                    await asyncio.sleep(IDLE_SECONDS)
                elif free <= len(leased):
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await self.aclose()

    async def step(self) -> int:
        """Lease one batch of due deliveries and attempt them all; how many were leased."""
        leased = await self.lease(self.concurrency)
        await asyncio.gather(*(self.attempt(job_id, ref) for job_id, ref in leased))
        return len(leased)

    async def lease(self, limit: int) -> list[tuple[int, uuid.UUID]]:
        now = self.clock()
        async with self.db.system_session() as session:
            query = (
                select(Job.id, Job.ref_id)
                .where(Job.kind == JobKind.WEBHOOK_DELIVERY, Job.due_at <= now)
                .order_by(Job.due_at, Job.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = [(job_id, ref) for job_id, ref in await session.execute(query) if ref]
            if rows:
                await session.execute(
                    update(Job)
                    .where(Job.id.in_([job_id for job_id, _ in rows]))
                    .values(due_at=now + LEASE, attempts=Job.attempts + 1)
                )
            await session.commit()
        return rows

    async def attempt(self, job_id: int, delivery_id: uuid.UUID) -> None:
        try:
            await self._attempt(job_id, delivery_id)
        except Exception:
            # The lease runs out and the delivery is attempted again.
            logger.exception("webhooks: attempt of delivery %s failed", delivery_id)

    async def _attempt(self, job_id: int, delivery_id: uuid.UUID) -> None:
        now = self.clock()
        request = await self._prepare(job_id, delivery_id, now)
        if request is not None:
            outcome = await self.send(*request, now)
            await self._record(job_id, delivery_id, outcome, now)

    async def _prepare(
        self, job_id: int, delivery_id: uuid.UUID, now: datetime
    ) -> tuple[str, str, str, bytes] | None:
        """URL, secret, message id and body to send; None when there is nothing to send now."""
        async with self.db.system_session() as session:
            query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
            delivery = (await session.execute(query)).scalar_one_or_none()
            subscription = None
            if delivery is not None:
                key = (delivery.tenant_id, delivery.subscription_id)
                subscription = await session.get(WebhookSubscription, key)
            pending = delivery is not None and delivery.status == DeliveryStatus.PENDING
            if delivery is None or subscription is None or not pending:
                await session.execute(delete(Job).where(Job.id == job_id))
            elif not subscription.active:
                self._give_up(delivery, "the subscription is not active")
                await session.execute(delete(Job).where(Job.id == job_id))
            elif (
                subscription.breaker_open_until is not None
                and subscription.breaker_open_until > now
            ):
                # Not attempted, not counted: the endpoint rests until its breaker half-opens.
                wait = subscription.breaker_open_until + timedelta(seconds=self.rng.uniform(0, 5))
                delivery.next_attempt_at = wait
                await session.execute(update(Job).where(Job.id == job_id).values(due_at=wait))
            else:
                return (
                    subscription.url,
                    subscription.secret,
                    str(delivery.event_id),
                    to_json(delivery.payload),
                )
            await session.commit()
            return None

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

    async def _record(
        self, job_id: int, delivery_id: uuid.UUID, outcome: Outcome, now: datetime
    ) -> None:
        async with self.db.system_session() as session:
            query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
            delivery = (await session.execute(query.with_for_update())).scalar_one_or_none()
            if delivery is None:
                await session.execute(delete(Job).where(Job.id == job_id))
                await session.commit()
                return
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.last_status_code = outcome.status_code
            delivery.last_error = outcome.error
            subscription_key = (delivery.tenant_id, delivery.subscription_id)
            done = True
            if outcome.delivered:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now
                delivery.next_attempt_at = None
                await self._endpoint_healthy(session, subscription_key)
            elif outcome.status_code == 410:
                self._give_up(delivery, "the receiver answered 410 Gone: subscription stopped")
                await stop_subscription(session, delivery.subscription_id, "gone")
            elif outcome.blocked:
                self._give_up(delivery, outcome.error or "blocked address")
            elif now - delivery.created_at >= self.retry_for:
                self._give_up(delivery, f"retries exhausted; last: {self._describe(outcome)}")
                await self._endpoint_failed(session, subscription_key, now)
            else:
                done = False
                delay = outcome.retry_after or retry_delay(delivery.attempts, self.rng)
                delivery.next_attempt_at = now + delay
                delivery.last_error = self._describe(outcome)
                await session.execute(
                    update(Job).where(Job.id == job_id).values(due_at=now + delay)
                )
                await self._endpoint_failed(session, subscription_key, now)
            if done:
                await session.execute(delete(Job).where(Job.id == job_id))
            await session.commit()

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
