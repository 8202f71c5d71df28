"""The WebSocket hub: live events from the bus to the screens subscribed to their topics.

A client loads a snapshot, then receives events; after a reconnect it sends the id of the last
event it saw and gets what it missed from a bounded replay buffer (Zulip's register/replay model).
When that is impossible (the id fell out of the buffer, the client lagged too far behind, or the bus
lost events) it gets ``{"type": "resync"}`` and must load a fresh snapshot.
"""

import asyncio
import itertools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any

from pydantic_core import to_json
from starlette import status
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from centralita.events.bus import Bus, Event

logger = logging.getLogger(__name__)

DEFAULT_REPLAY_SIZE = 5_000
DEFAULT_QUEUE_SIZE = 1_000
RESYNC_MESSAGE = '{"type":"resync"}'
PONG_MESSAGE = '{"type":"pong"}'

Send = Callable[[str], Awaitable[None]]


class ResyncRequired(Exception):
    """The subscriber missed events it can no longer be given: it must reload its snapshot."""


class Subscription:
    """One client's view of the hub: replayed events first, then live ones, in order.

    A deque and a single waiter rather than an asyncio.Queue: delivering one event to hundreds of
    subscriptions is the hot path, and this wakes each reader with the least work.
    """

    def __init__(self, topics: frozenset[str], replayed: Iterable[Event], queue_size: int) -> None:
        self.topics = topics
        self._replayed = deque(replayed)
        self._live: deque[Event] = deque()
        self._queue_size = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._ended_by: type[Exception] | None = None

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Event:
        while self._ended_by is None:
            if self._replayed:
                return self._replayed.popleft()
            if self._live:
                return self._live.popleft()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        raise self._ended_by

    def _offer(self, event: Event) -> bool:
        if len(self._live) >= self._queue_size:
            return False
        self._live.append(event)
        self._wake()
        return True

    def _end(self, reason: type[Exception]) -> None:
        """Stop the iteration with ``reason`` (ResyncRequired or StopAsyncIteration)."""
        self._ended_by = reason
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Hub:
    """Routes each event from the bus to the subscriptions of its recipient topics only."""

    def __init__(
        self,
        bus: Bus,
        replay_size: int = DEFAULT_REPLAY_SIZE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        self._bus = bus
        self._queue_size = queue_size
        self._recent: deque[Event] = deque(maxlen=replay_size)
        self._position_of: dict[str, int] = {}
        self._next_position = 0
        self._by_topic: dict[str, set[Subscription]] = {}
        bus.subscribe(self._on_event, on_gap=self._on_gap)

    @property
    def latest_event_id(self) -> str | None:
        """The newest event in the replay buffer: a client that loads a snapshot after reading it
        can pass it as ``last_event_id`` and miss nothing committed meanwhile."""
        return self._recent[-1].id if self._recent else None

    @asynccontextmanager
    async def subscribe(
        self, topics: frozenset[str], last_event_id: str | None = None
    ) -> AsyncIterator[Subscription]:
        """Events for ``topics``; with ``last_event_id``, starting with those after it.

        The replay is computed and the subscription registered without yielding to the loop,
        so no event falls between the two.
        """
        missed = [] if last_event_id is None else self._events_after(last_event_id)
        if missed is None:
            subscription = Subscription(topics, (), self._queue_size)
            subscription._end(ResyncRequired)
        else:
            replayed = (event for event in missed if not topics.isdisjoint(event.recipients))
            subscription = Subscription(topics, replayed, self._queue_size)
            for topic in topics:
                self._by_topic.setdefault(topic, set()).add(subscription)
        try:
            yield subscription
        finally:
            self._unregister(subscription)

    def close(self) -> None:
        """Stop listening to the bus and end every subscription (the process is shutting down)."""
        self._bus.unsubscribe(self._on_event)
        self._end_all(StopAsyncIteration)

    def _on_event(self, event: Event) -> None:
        self._remember(event)
        reached: set[Subscription] = set()
        for topic in event.recipients:
            reached.update(self._by_topic.get(topic, ()))
        for subscription in reached:
            if not subscription._offer(event):
                # A slow client must never hold back the others: it reloads instead.
                logger.info(
                    "A subscriber fell %d events behind; asking it to resync", self._queue_size
                )
                subscription._end(ResyncRequired)
                self._unregister(subscription)

    def _on_gap(self) -> None:
        # Events were lost upstream: nothing in the buffer can be trusted as a complete replay.
        self._recent.clear()
        self._position_of.clear()
        self._end_all(ResyncRequired)

    def _remember(self, event: Event) -> None:
        if len(self._recent) == self._recent.maxlen:
            del self._position_of[self._recent[0].id]
        self._recent.append(event)
        self._position_of[event.id] = self._next_position
        self._next_position += 1

    def _events_after(self, event_id: str) -> list[Event] | None:
        position = self._position_of.get(event_id)
        if position is None:
            return None
        first_position = self._next_position - len(self._recent)
        return list(itertools.islice(self._recent, position - first_position + 1, None))

    def _end_all(self, reason: type[Exception]) -> None:
        subscriptions = set[Subscription]().union(*self._by_topic.values())
        self._by_topic.clear()
        for subscription in subscriptions:
            subscription._end(reason)

    def _unregister(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            subscribers = self._by_topic.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._by_topic[topic]


async def serve_websocket(
    websocket: WebSocket,
    hub: Hub,
    topics: frozenset[str],
    snapshot: dict[str, Any] | None = None,
    last_event_id: str | None = None,
) -> None:
    """Serve one authenticated client until it disconnects.

    Sends ``{"type": "snapshot", ...}`` first when given, then every event for ``topics`` as
    ``{"id", "type", "tenant", "data", "at"}``, and answers ``{"type": "ping"}`` with
    ``{"type": "pong"}``. After a resync message the socket is closed: the client reconnects
    without a last event id and receives a fresh snapshot.
    """
    if websocket.client_state is WebSocketState.CONNECTING:
        await websocket.accept()
    sending = asyncio.Lock()

    async def send(text: str) -> None:
        async with sending:
            await websocket.send_text(text)

    async with hub.subscribe(topics, last_event_id) as subscription:
        try:
            if snapshot is not None:
                await send(to_json({"type": "snapshot", **snapshot}).decode())
            await _until_either_returns(
                _forward(websocket, subscription, send), _answer_pings(websocket, send)
            )
        except WebSocketDisconnect:
            return


async def _forward(websocket: WebSocket, subscription: Subscription, send: Send) -> None:
    try:
        async for event in subscription:
            await send(event.client_json)
    except ResyncRequired:
        await send(RESYNC_MESSAGE)
        await websocket.close(status.WS_1000_NORMAL_CLOSURE, "resync")
    else:
        # The hub closed with the process: the client reconnects elsewhere with its last id.
        await websocket.close(status.WS_1012_SERVICE_RESTART)


async def _answer_pings(websocket: WebSocket, send: Send) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if _is_ping(message.get("text")):
            await send(PONG_MESSAGE)


def _is_ping(text: str | None) -> bool:
    if text is None:
        return False
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


async def _until_either_returns(*work: Coroutine[Any, Any, None]) -> None:
    tasks = [asyncio.create_task(coroutine) for coroutine in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
