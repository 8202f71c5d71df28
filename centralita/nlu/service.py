"""Call steering: from what a customer said or wrote to the intent, its queue or self-service.

When the tenant has trained a model, the model decides, and a request it finds out of scope is
``None``. Until then each intent's keywords decide: the intent whose keywords occur most in the
request wins, and a request naming none is out of scope (``None``), so the IVR or bot asks again
or hands over to a person instead of misrouting.
"""

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.service import fold
from centralita.errors import Conflict, NotFound
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.nlu import cache, training
from centralita.nlu.classifier import OOS
from centralita.nlu.models import IntentRoute

WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Steering:
    intent: str
    # 0..1: how sure the recogniser is.
    confidence: float
    queue: str | None
    self_service: str | None
    skills: tuple[str, ...] = field(default=())
    # "model" (with its version) or "keywords".
    source: str = "keywords"
    model_version: int | None = None


def _words(text: str) -> tuple[str, ...]:
    return tuple(WORD.findall(fold(text)))


def _occurrences(words: tuple[str, ...], phrase: tuple[str, ...]) -> int:
    if not phrase:
        return 0
    span = len(phrase)
    return sum(words[i : i + span] == phrase for i in range(len(words) - span + 1))


def keyword_scores(text: str, routes: Iterable[cache.Route]) -> dict[str, int]:
    words = _words(text)
    scores = {
        route.intent: sum(_occurrences(words, phrase) for phrase in route.phrases)
        for route in routes
    }
    return {intent: score for intent, score in scores.items() if score > 0}


def _steering(route: cache.Route | None, intent: str, confidence: float, **how: Any) -> Steering:
    if route is None:
        return Steering(intent, confidence, None, None, **how)
    return Steering(intent, confidence, route.queue, route.self_service, route.skills, **how)


async def steer(session: AsyncSession, tenant_id: uuid.UUID, text: str) -> Steering | None:
    """The tenant's intent for ``text``, or None when it is out of scope (the session is scoped to
    ``tenant_id``). The tenant's intents and newest model are read at most once every
    ``cache.TTL_SECONDS`` by this process: every channel steers every request it receives."""
    setup = cache.fresh(tenant_id)
    if setup is None:
        setup = cache.keep(tenant_id, await _routes(session), await training.newest_model(session))
    result = await _recognise(session, tenant_id, setup.routes, setup.model, text, None)
    return None if result.intent == OOS else result


async def recognise(
    session: AsyncSession, tenant_id: uuid.UUID, text: str, threshold: float | None = None
) -> Steering:
    """Like :func:`steer`, but an out-of-scope request is the intent ``oos`` (with the confidence
    of the best guess), for people trying the model out: so they see an intent just changed in
    any process, the tenant's intents and model are read afresh."""
    routes = await _routes(session)
    return await _recognise(
        session, tenant_id, routes, await training.newest_model(session), text, threshold
    )


async def _routes(session: AsyncSession) -> dict[str, cache.Route]:
    return {
        route.intent: cache.Route(
            route.intent,
            route.queue,
            route.self_service,
            tuple(route.skills),
            tuple(_words(keyword) for keyword in route.keywords),
        )
        for route in await list_routes(session)
    }


async def _recognise(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    routes: dict[str, cache.Route],
    model: cache.Model | None,
    text: str,
    threshold: float | None,
) -> Steering:
    if model is not None:
        classifier = await training.classifier_of(session, tenant_id, model.id)
        predicted = await training.predict(classifier, text, threshold)
        if predicted is not None:
            how = {"source": "model", "model_version": model.version}
            route = routes.get(predicted.intent)
            return _steering(route, predicted.intent, round(predicted.confidence, 4), **how)
    scores = keyword_scores(text, routes.values())
    if not scores:
        return Steering(OOS, 0.0, None, None)
    best = max(scores, key=lambda intent: (scores[intent], intent))
    return _steering(routes[best], best, scores[best] / sum(scores.values()))


async def list_routes(session: AsyncSession) -> list[IntentRoute]:
    query = select(IntentRoute).order_by(IntentRoute.intent)
    return list((await session.execute(query)).scalars())


async def get_route(session: AsyncSession, route_id: uuid.UUID) -> IntentRoute:
    query = select(IntentRoute).where(IntentRoute.id == route_id)
    route = (await session.execute(query)).scalar_one_or_none()
    if route is None:
        raise NotFound("Intent not found")
    return route


def _audited(route: IntentRoute) -> dict[str, Any]:
    return {
        "intent": route.intent,
        "queue": route.queue,
        "self_service": route.self_service,
        "skills": list(route.skills),
        "keywords": list(route.keywords),
    }


async def create_route(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, **fields: Any
) -> IntentRoute:
    route = IntentRoute(tenant_id=tenant_id, **fields)
    session.add(route)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"The intent {fields['intent']} exists", "intent-taken") from None
    cache.forget(tenant_id)
    record_audit(
        session,
        tenant_id,
        actor,
        "nlu_intent.created",
        ("nlu_intent", route.id),
        after=_audited(route),
    )
    return route


async def update_route(
    session: AsyncSession,
    actor: Actor,
    tenant_id: uuid.UUID,
    route_id: uuid.UUID,
    changes: dict[str, Any],
) -> IntentRoute:
    route = await get_route(session, route_id)
    before, after = apply_changes(route, changes)
    if after:
        await session.flush()
        cache.forget(tenant_id)
        record_audit(
            session,
            tenant_id,
            actor,
            "nlu_intent.updated",
            ("nlu_intent", route.id),
            before=before,
            after=after,
        )
    return route


async def delete_route(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, route_id: uuid.UUID
) -> None:
    route = await get_route(session, route_id)
    await session.delete(route)
    await session.flush()
    cache.forget(tenant_id)
    record_audit(
        session,
        tenant_id,
        actor,
        "nlu_intent.deleted",
        ("nlu_intent", route.id),
        before=_audited(route),
    )


async def set_intent_route(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    intent: str,
    *,
    queue: str | None = None,
    self_service: str | None = None,
    keywords: list[str] | None = None,
    skills: list[str] | None = None,
) -> IntentRoute:
    """Create or replace where an intent goes."""
    query = select(IntentRoute).where(IntentRoute.intent == intent)
    route = (await session.execute(query)).scalar_one_or_none()
    if route is None:
        route = IntentRoute(tenant_id=tenant_id, intent=intent)
        session.add(route)
    route.queue, route.self_service = queue, self_service
    route.keywords, route.skills = list(keywords or []), list(skills or [])
    await session.flush()
    cache.forget(tenant_id)
    return route
