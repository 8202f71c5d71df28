"""What the knowledge base lacks and what it deflects, per tenant.

* Content gaps: questions (grouped by query key) that found nothing, or that nobody clicked.
* Articles that never help: read, yet never voted helpful (or voted down more than up).
* Deflection: portal visitors who searched or read and then opened no ticket within 24 hours.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.knowledge.models import Article, ArticleState, EventKind, KnowledgeEvent, Search

DEFLECTION_WINDOW = timedelta(hours=24)
SELF_SERVICE = (EventKind.VIEW, EventKind.CLICK)
CONTACTS = (EventKind.TICKET_OPENED, EventKind.CALLBACK_REQUESTED)
MIN_VIEWS_TO_JUDGE = 5


@dataclass(frozen=True)
class Gap:
    query: str
    searches: int
    with_results: int
    clicked: int
    last_searched_at: datetime


async def content_gaps(session: AsyncSession, days: int, limit: int) -> list[Gap]:
    since = utcnow() - timedelta(days=days)
    with_results = func.sum(case((Search.result_count > 0, 1), else_=0))
    clicked = func.sum(case((Search.clicks > 0, 1), else_=0))
    query = (
        select(
            func.max(Search.query), func.count(), with_results, clicked, func.max(Search.created_at)
        )
        .where(Search.created_at >= since, Search.query_key != "")
        .group_by(Search.query_key)
        .having(clicked == 0)
        .order_by(func.count().desc(), func.max(Search.created_at).desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [Gap(q, int(n), int(r or 0), int(c or 0), at) for q, n, r, c, at in rows]


async def never_helpful(session: AsyncSession, limit: int) -> list[Article]:
    query = (
        select(Article)
        .where(
            Article.state == ArticleState.PUBLISHED,
            Article.views >= MIN_VIEWS_TO_JUDGE,
            (Article.helpful_votes == 0) | (Article.unhelpful_votes > Article.helpful_votes),
        )
        .order_by(Article.views.desc(), Article.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class Deflection:
    days: int
    self_service_sessions: int
    deflected: int

    @property
    def rate(self) -> float | None:
        if not self.self_service_sessions:
            return None
        return round(self.deflected / self.self_service_sessions, 4)


async def deflection(session: AsyncSession, days: int, now: datetime | None = None) -> Deflection:
    """Per visitor, their first self-service step in the period; deflected when no contact
    followed within 24 hours. Visits younger than 24 hours are not judged yet."""
    now = now or utcnow()
    since, settled = now - timedelta(days=days), now - DEFLECTION_WINDOW
    first_steps = (
        select(KnowledgeEvent.visitor, func.min(KnowledgeEvent.created_at).label("at"))
        .where(
            KnowledgeEvent.kind.in_(SELF_SERVICE),
            KnowledgeEvent.visitor.is_not(None),
            KnowledgeEvent.created_at >= since,
            KnowledgeEvent.created_at < settled,
        )
        .group_by(KnowledgeEvent.visitor)
    )
    searched = (
        select(Search.visitor, func.min(Search.created_at).label("at"))
        .where(Search.visitor.is_not(None), Search.created_at >= since, Search.created_at < settled)
        .group_by(Search.visitor)
    )
    starts: dict[str, datetime] = {}
    for visitor, at in [
        *(await session.execute(first_steps)).all(),
        *(await session.execute(searched)).all(),
    ]:
        if visitor is not None and (visitor not in starts or at < starts[visitor]):
            starts[visitor] = at
    if not starts:
        return Deflection(days, 0, 0)
    contacts = select(KnowledgeEvent.visitor, KnowledgeEvent.created_at).where(
        KnowledgeEvent.kind.in_(CONTACTS),
        # Every contact of the period rather than IN (visitors): there may be many thousands.
        KnowledgeEvent.visitor.is_not(None),
        KnowledgeEvent.created_at >= since,
    )
    contacted = {
        visitor
        for visitor, at in (await session.execute(contacts)).all()
        if visitor in starts and starts[visitor] <= at <= starts[visitor] + DEFLECTION_WINDOW
    }
    return Deflection(days, len(starts), len(starts) - len(contacted))
