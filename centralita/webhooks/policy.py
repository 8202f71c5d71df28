"""When to try a webhook again: back-off with jitter, Retry-After, the circuit breaker."""

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
