"""Mechanics the routing engine is built from, free of routing policy: a timer heap with lazy
cancellation, a decayed occupancy meter and a handle-time average. Pure, like the engine."""

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

# The trailing window that "recent occupancy" looks at.
OCCUPANCY_WINDOW_SECONDS = 1800.0
# The handle time a queue is assumed to have until one is observed.
DEFAULT_HANDLE_SECONDS = 180.0
# Weight of each new observation in a queue's handle-time average.
HANDLE_TIME_SMOOTHING = 0.1

S = TypeVar("S")
R = TypeVar("R")


@dataclass(slots=True, eq=False)
class Timer(Generic[S, R]):
    """``action(subject, due, now)`` scheduled for ``due``; cancelling only marks it, the heap
    drops it when it comes up."""

    due: float
    action: Callable[[S, float, float], R]
    subject: S
    cancelled: bool = False

    def fire(self, now: float) -> R:
        return self.action(self.subject, self.due, now)


class TimerHeap(Generic[R]):
    """Timers in due order. Scheduling and each due timer cost O(log n); cancelling is O(1)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer[Any, R]]] = []
        self._sequence = itertools.count()

    def schedule(
        self, due: float, action: Callable[[S, float, float], R], subject: S
    ) -> Timer[S, R]:
        timer = Timer(due, action, subject)
        heapq.heappush(self._heap, (due, next(self._sequence), timer))
        return timer

    def mark(self) -> int:
        """A bound for ``pop_due``: timers scheduled after this call are not popped."""
        return next(self._sequence)

    def pop_due(self, now: float, scheduled_before: int) -> Timer[Any, R] | None:
        """The earliest live timer due at ``now``, removed from the heap, or None."""
        self._drop_cancelled()
        heap = self._heap
        if heap and heap[0][0] <= now and heap[0][1] < scheduled_before:
            return heapq.heappop(heap)[2]
        return None

    def next_due(self) -> float | None:
        self._drop_cancelled()
        return self._heap[0][0] if self._heap else None

    def _drop_cancelled(self) -> None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)


def cancel(timer: Timer[Any, Any] | None) -> None:
    if timer is not None:
        timer.cancelled = True


@dataclass(slots=True)
class OccupancyMeter:
    """Share of signed-in time spent holding work, each moment weighted by
    exp(-age / OCCUPANCY_WINDOW_SECONDS): a trailing window that costs O(1) to keep.

    ``record`` must be called at every change of state, before the state changes, so that the
    time since the previous call is counted with the state it really had."""

    at: float
    signed_in: bool = False
    busy: bool = False
    signed_in_weight: float = 0.0
    busy_weight: float = 0.0

    def record(self, now: float, *, signed_in: bool, busy: bool) -> None:
        if signed_in == self.signed_in and busy == self.busy:
            return  # the weights of a steady state are reckoned when it ends
        self.signed_in_weight, self.busy_weight = self._weights(now)
        self.at = max(self.at, now)
        self.signed_in = signed_in
        self.busy = busy

    def value(self, now: float) -> float:
        signed_in_weight, busy_weight = self._weights(now)
        return busy_weight / signed_in_weight if signed_in_weight > 0.0 else 0.0

    def _weights(self, now: float) -> tuple[float, float]:
        decay = math.exp(-max(0.0, now - self.at) / OCCUPANCY_WINDOW_SECONDS)
        # The integral of the decay weight over the time since the last change.
        gained = OCCUPANCY_WINDOW_SECONDS * (1.0 - decay) if self.signed_in else 0.0
        return (
            self.signed_in_weight * decay + gained,
            self.busy_weight * decay + (gained if self.busy else 0.0),
        )


@dataclass(slots=True)
class HandleTime:
    """A queue's average handle time: exponential moving average of the observed durations."""

    seconds: float = DEFAULT_HANDLE_SECONDS
    observed: bool = False

    def observe(self, seconds: float) -> None:
        if self.observed:
            self.seconds += HANDLE_TIME_SMOOTHING * (seconds - self.seconds)
        else:
            self.seconds = seconds
            self.observed = True
