"""Call steering: from what a customer said or wrote to the intent, its queue or self-service.

Until a tenant trains a model, each intent's keywords decide: the intent whose keywords occur most
in the request wins, and a request naming none is out of scope (``None``), so the IVR or bot asks
again or hands over to a person instead of misrouting.
"""

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.service import fold
from centralita.nlu.models import IntentRoute

WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Steering:
    intent: str
    # 0..1: how sure the recogniser is.
    confidence: float
    queue: str | None
    self_service: str | None


def _words(text: str) -> tuple[str, ...]:
    return tuple(WORD.findall(fold(text)))


def _occurrences(words: tuple[str, ...], phrase: tuple[str, ...]) -> int:
    if not phrase:
        return 0
    span = len(phrase)
    return sum(words[i : i + span] == phrase for i in range(len(words) - span + 1))


def keyword_scores(text: str, routes: list[IntentRoute]) -> dict[str, int]:
    words = _words(text)
    scores = {
        route.intent: sum(_occurrences(words, _words(k)) for k in route.keywords)
        for route in routes
    }
    return {intent: score for intent, score in scores.items() if score > 0}


async def steer(session: AsyncSession, tenant_id: uuid.UUID, text: str) -> Steering | None:
    """The tenant's intent for ``text``, or None when it is out of scope (the session is scoped to
    ``tenant_id``)."""
    query = select(IntentRoute).order_by(IntentRoute.intent)
    routes = list((await session.execute(query)).scalars())
    scores = keyword_scores(text, routes)
    if not scores:
        return None
    best = max(scores, key=lambda intent: (scores[intent], intent))
    route = next(r for r in routes if r.intent == best)
    confidence = scores[best] / sum(scores.values())
    return Steering(route.intent, confidence, route.queue, route.self_service)


async def set_intent_route(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    intent: str,
    *,
    queue: str | None = None,
    self_service: str | None = None,
    keywords: list[str] | None = None,
) -> IntentRoute:
    """Create or replace where an intent goes."""
    query = select(IntentRoute).where(IntentRoute.intent == intent)
    route = (await session.execute(query)).scalar_one_or_none()
    if route is None:
        route = IntentRoute(tenant_id=tenant_id, intent=intent)
        session.add(route)
    route.queue, route.self_service, route.keywords = queue, self_service, list(keywords or [])
    await session.flush()
    return route
