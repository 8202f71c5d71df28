"""What steering reads of a tenant on every request, kept by each process a little while.

Every steered call, chat, SMS and email asks for the tenant's intent routes and its newest model
version, which change only when an admin edits an intent or a model is trained. So each process
keeps them for ``TTL_SECONDS`` (as the voice webhooks keep a number's owner): a change made in
this process counts at once (its writer forgets the tenant), one made in another process within
that time. Plain values are kept, never ORM rows, which belong to the session that loaded them.
"""

import time
import uuid
from dataclasses import dataclass

TTL_SECONDS = 10.0
MAX_CACHED = 10_000


@dataclass(frozen=True)
class Route:
    """An intent route as steering uses it, its keywords already split into folded words."""

    intent: str
    queue: str | None
    self_service: str | None
    skills: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Model:
    """The tenant's newest model version."""

    id: uuid.UUID
    version: int


@dataclass(frozen=True)
class Setup:
    routes: dict[str, Route]
    model: Model | None
    seen_at: float


_setups: dict[uuid.UUID, Setup] = {}


def fresh(tenant_id: uuid.UUID) -> Setup | None:
    """The tenant's setup, if this process read it less than ``TTL_SECONDS`` ago."""
    setup = _setups.get(tenant_id)
    if setup is None or time.monotonic() - setup.seen_at > TTL_SECONDS:
        return None
    return setup


def keep(tenant_id: uuid.UUID, routes: dict[str, Route], model: Model | None) -> Setup:
    if len(_setups) >= MAX_CACHED:
        _setups.clear()
    setup = _setups[tenant_id] = Setup(routes, model, time.monotonic())
    return setup


def forget(tenant_id: uuid.UUID) -> None:
    """The tenant's intents or models change: read them again on the next request."""
    _setups.pop(tenant_id, None)
