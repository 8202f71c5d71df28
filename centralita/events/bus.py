"""The event bus: one envelope, in-process or Redis fan-out, and publishing after commit.

Services call :func:`emit` next to their writes; the events wait on the session and reach the bus
only once its transaction commits (a rollback drops them), so no screen ever shows a change that
did not happen. Pub/sub feeds live screens and is not a durable log: work that must survive a crash
is a job row in the database.
"""

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Protocol

from pydantic_core import to_json, to_jsonable_python
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from centralita.config import Settings
from centralita.db.base import new_id, utcnow

logger = logging.getLogger(__name__)

EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
REDIS_CHANNEL = "centralita:events"
REDIS_TIMEOUT_S = 2.0
RECONNECT_FIRST_DELAY_S = 0.1
RECONNECT_MAX_DELAY_S = 5.0

BUS_KEY = "centralita.events.bus"
PENDING_KEY = "centralita.events.pending"
SAVEPOINT_MARKS_KEY = "centralita.events.savepoint_marks"


def user_topic(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


def tenant_topic(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}"


def supervisors_topic(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}:supervisors"


def conversation_topic(interaction_id: uuid.UUID) -> str:
    """What the customer's side of a conversation (a chat widget) listens to."""
    return f"conversation:{interaction_id}"


@dataclass(frozen=True)
class Event:
    """``{type, tenant, data, at, id}`` addressed to explicit recipient topics.

    ``data`` is kept in its JSON form, so subscribers in this process and in others see the same
    values. ``tenant`` is None only for platform events that belong to no tenant.
    """

    type: str
    tenant: uuid.UUID | None
    data: dict[str, Any]
    recipients: tuple[str, ...]
    id: str = field(default_factory=lambda: str(new_id()))
    at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if not EVENT_TYPE.fullmatch(self.type):
            raise ValueError(f"event type {self.type!r} is not named noun.verb_ed")
        if self.at.tzinfo is None:
            raise ValueError("an event time must be time-zone aware")
        # Frozen: normalising the given values is the one place that may write fields.
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        object.__setattr__(self, "data", to_jsonable_python(self.data))

    def to_json(self) -> bytes:
        return to_json({**self._envelope(), "recipients": self.recipients})

    @classmethod
    def from_json(cls, raw: str | bytes) -> "Event":
        fields = json.loads(raw)
        tenant = fields["tenant"]
        return cls(
            type=fields["type"],
            tenant=uuid.UUID(tenant) if tenant else None,
            data=fields["data"],
            recipients=tuple(fields["recipients"]),
            id=fields["id"],
            at=datetime.fromisoformat(fields["at"]),
        )

    @cached_property
    def client_json(self) -> str:
        """What a WebSocket client receives (recipients stay on the server); built once."""
        return to_json(self._envelope()).decode()

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "tenant": self.tenant,
            "data": self.data,
            "at": self.at,
        }


Subscriber = Callable[[Event], None]
GapHandler = Callable[[], None]
"""Called when events may have been lost (the Redis connection dropped): replay is unreliable."""


class Bus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...

    def subscribe(self, callback: Subscriber, *, on_gap: GapHandler | None = None) -> None: ...

    def unsubscribe(self, callback: Subscriber) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class _Subscribers:
    """Local delivery shared by both buses; a failing subscriber never stops the others."""

    def __init__(self) -> None:
        self._callbacks: dict[Subscriber, GapHandler | None] = {}

    def subscribe(self, callback: Subscriber, *, on_gap: GapHandler | None = None) -> None:
        self._callbacks[callback] = on_gap

    def unsubscribe(self, callback: Subscriber) -> None:
        self._callbacks.pop(callback, None)

    def _deliver(self, event: Event) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                logger.exception("Event subscriber %r failed on %s", callback, event.type)

    def _report_gap(self) -> None:
        for on_gap in list(self._callbacks.values()):
            if on_gap is not None:
                on_gap()


class LocalBus(_Subscribers):
    """In-process fan-out: the default when one process serves every WebSocket."""

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self._deliver(event)

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to release."""


class RedisBus(_Subscribers):
    """Fan-out across processes through one Redis pub/sub channel.

    Every process, the publisher included, receives each event from the channel, so all hubs see
    events in the same order. Events published while Redis is unreachable are logged and dropped;
    after the listener reconnects, subscribers hear of the gap.
    """

    def __init__(self, url: str, channel: str = REDIS_CHANNEL) -> None:
        super().__init__()
        self._url = url
        self._channel = channel
        # One retry heals a pooled connection that went stale across a Redis restart.
        self._publisher = self._client("publisher", retries=1)
        # The listener reconnects itself, so that it can log the loss and report the gap.
        self._listener_client = self._client("listener", retries=0)
        self._publishing = asyncio.Lock()
        self._outbox: list[Event] = []
        self._listener: asyncio.Task[None] | None = None

    def _client(self, role: str, retries: int) -> Redis:
        return Redis.from_url(
            self._url,
            client_name=f"{self._channel}:{role}",  # tells the connections apart in CLIENT LIST
            retry=Retry(NoBackoff(), retries),
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_keepalive=True,
        )

    async def start(self) -> None:
        """Subscribe before returning, so nothing published after start is missed.

        If Redis is down, start returns after the first failed attempt and the listener keeps
        retrying: the application serves requests without live updates meanwhile.
        """
        first_attempt = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(first_attempt), name="redis-events")
        await first_attempt.wait()

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        # Group commit: while one publisher talks to Redis, later events gather in the outbox
        # and the next lock holder sends them all in one round trip, in commit order. Sending
        # each transaction's events alone would fall behind a process committing ~100 times a
        # second.
        self._outbox.extend(events)
        async with self._publishing:
            if not self._outbox:
                return  # an earlier publisher already sent these
            batch, self._outbox = self._outbox, []
            try:
                async with self._publisher.pipeline(transaction=False) as pipeline:
                    for event in batch:
                        pipeline.publish(self._channel, event.to_json())
                    await pipeline.execute()
            except (RedisError, OSError) as exc:
                logger.warning(
                    "Redis unreachable, %d events dropped (%s): %s",
                    len(batch),
                    ", ".join(sorted({event.type for event in batch})),
                    exc,
                )

    async def _listen(self, first_attempt: asyncio.Event) -> None:
        delay = RECONNECT_FIRST_DELAY_S
        while True:
            try:
                async with self._listener_client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    if first_attempt.is_set():
                        logger.info("Reconnected to the Redis event channel %s", self._channel)
                        self._report_gap()
                    first_attempt.set()
                    delay = RECONNECT_FIRST_DELAY_S
                    async for message in pubsub.listen():
                        self._receive(message["data"])
            except Exception as exc:  # noqa: BLE001 - the listener outlives any failure
                logger.warning(
                    "Redis event channel %s unavailable (%s); retrying in %.1f s",
                    self._channel,
                    exc,
                    delay,
                )
            first_attempt.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY_S)

    def _receive(self, raw: bytes) -> None:
        try:
            event = Event.from_json(raw)
        except (ValueError, KeyError, TypeError):
            logger.warning("Ignoring a malformed message on %s: %.200r", self._channel, raw)
            return
        self._deliver(event)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._publisher.aclose()
        await self._listener_client.aclose()


def open_bus(settings: Settings) -> Bus:
    """Redis when ``CENTRALITA_REDIS_URL`` is set (several processes), else in-process."""
    return RedisBus(settings.redis_url) if settings.redis_url else LocalBus()


# --- publishing after commit -------------------------------------------------------------------

_publishing: set[asyncio.Task[None]] = set()


def attach(sessionmaker: async_sessionmaker[AsyncSession], bus: Bus) -> None:
    """Sessions made by ``sessionmaker`` from now on publish their committed events on ``bus``."""
    sessionmaker.configure(info={**sessionmaker.kw.get("info", {}), BUS_KEY: bus})


def emit(session: AsyncSession | Session, *events: Event) -> None:
    """Queue events on the session's transaction: published on commit, dropped on rollback."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(PENDING_KEY, []).extend(events)


async def wait_for_published() -> None:
    """Wait until events committed so far have reached the bus (before closing it; in tests)."""
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(task for task in _publishing if task.get_loop() is loop))


def _pending_count(session: Session) -> int:
    return len(session.info.get(PENDING_KEY, ()))


def _savepoint_marks(session: Session) -> dict[SessionTransaction, int]:
    marks: dict[SessionTransaction, int] = session.info.setdefault(SAVEPOINT_MARKS_KEY, {})
    return marks


@orm_event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        _savepoint_marks(session)[transaction] = _pending_count(session)


@orm_event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    # Called while the transaction that rolled back is still current: a savepoint drops only the
    # events emitted inside it, the outermost transaction drops them all.
    pending: list[Event] | None = session.info.get(PENDING_KEY)
    if not pending:
        return
    savepoint = session.get_nested_transaction()
    keep = _savepoint_marks(session).get(savepoint, 0) if savepoint is not None else 0
    if len(pending) > keep:
        logger.debug("Rollback dropped %d events", len(pending) - keep)
        del pending[keep:]


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        _savepoint_marks(session).pop(transaction, None)
    elif transaction.parent is None:
        # Also a session closed without commit: its events must not leak into the next one.
        session.info.pop(PENDING_KEY, None)


@orm_event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a released savepoint: the outer transaction may still roll back
    events = session.info.pop(PENDING_KEY, None)
    if not events:
        return
    bus: Bus | None = session.info.get(BUS_KEY)
    if bus is None:
        logger.debug("No bus attached to this session: %d committed events discarded", len(events))
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        logger.error("Committed outside an event loop: %d events not published", len(events))
        return
    task = loop.create_task(_publish(bus, events))
    _publishing.add(task)
    task.add_done_callback(_publishing.discard)


async def _publish(bus: Bus, events: list[Event]) -> None:
    try:
        await bus.publish(events)
    except Exception:
        logger.exception("Publishing %d committed events failed", len(events))
