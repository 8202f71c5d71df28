"""Recording use: searches, views, clicks, votes, insertions into replies and resolutions.

A signal is an event row plus an update of the article's use score (see ``learning``). An
insertion into a reply on a ticket is followed up by a durable job: once the ticket has been
resolved and stayed resolved through the tenant's reopen window, the article earns a resolution.
"""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import new_id, utcnow
from centralita.db.scoping import use_tenant_scope
from centralita.errors import InvalidInput
from centralita.interactions.models import Interaction
from centralita.jobs.models import Job, JobKind
from centralita.jobs.service import schedule
from centralita.jobs.worker import JobHandler
from centralita.knowledge.learning import add_signal
from centralita.knowledge.models import Article, EventKind, KnowledgeEvent, Search
from centralita.tenancy.models import Tenant
from centralita.tickets.models import Ticket, TicketStatus
from centralita.tickets.settings import ticket_settings

FOLLOW_UP_EVERY = timedelta(days=1)
# An insertion whose ticket is still open after this long taught nothing.
FOLLOW_UP_FOR = timedelta(days=60)
DONE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


def record_search(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    query: str,
    key: str,
    locale: str | None,
    source: str,
    result_count: int,
    visitor: str | None = None,
) -> Search:
    search = Search(
        tenant_id=tenant_id,
        id=new_id(),
        query=" ".join(query.split())[:300],
        query_key=key,
        locale=locale,
        source=source,
        result_count=result_count,
        clicks=0,
        visitor=visitor,
    )
    session.add(search)
    return search


async def _locked_article(session: AsyncSession, article_id: uuid.UUID) -> Article:
    query = select(Article).where(Article.id == article_id).with_for_update()
    return (await session.execute(query)).scalar_one()


async def record_event(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    kind: EventKind,
    *,
    article_id: uuid.UUID | None = None,
    search_id: uuid.UUID | None = None,
    interaction_id: uuid.UUID | None = None,
    ticket_id: uuid.UUID | None = None,
    visitor: str | None = None,
    client_key: str | None = None,
    now: datetime | None = None,
) -> KnowledgeEvent:
    """One thing done; an article's counters and use score move with it."""
    now = now or utcnow()
    key = None
    if search_id is not None:
        search = (
            await session.execute(select(Search).where(Search.id == search_id))
        ).scalar_one_or_none()
        if search is None:
            raise InvalidInput.on_field("body.search_id", "No such search")
        key = search.query_key
        if kind == EventKind.CLICK:
            await session.execute(
                update(Search).where(Search.id == search_id).values(clicks=Search.clicks + 1)
            )
    if article_id is not None:
        article = await _locked_article(session, article_id)
        add_signal(article, kind, now)
        if kind == EventKind.VIEW:
            article.views += 1
        elif kind == EventKind.HELPFUL:
            article.helpful_votes += 1
        elif kind == EventKind.UNHELPFUL:
            article.unhelpful_votes += 1
    event = KnowledgeEvent(
        tenant_id=tenant_id,
        id=new_id(),
        kind=kind,
        article_id=article_id,
        search_id=search_id,
        query_key=key,
        interaction_id=interaction_id,
        ticket_id=ticket_id,
        visitor=visitor,
        client_key=client_key,
        details={},
        created_at=now,
    )
    session.add(event)
    return event


async def record_insertion(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    article_id: uuid.UUID,
    *,
    interaction_id: uuid.UUID | None,
    ticket_id: uuid.UUID | None,
) -> KnowledgeEvent:
    """An agent put the article into a reply; a ticket it helps resolve will count for it."""
    if interaction_id is not None:
        interaction = (
            await session.execute(select(Interaction).where(Interaction.id == interaction_id))
        ).scalar_one_or_none()
        if interaction is None:
            raise InvalidInput.on_field("body.interaction_id", "No such interaction")
        ticket_id = ticket_id or interaction.ticket_id
    if ticket_id is not None:
        found = await session.execute(select(Ticket.id).where(Ticket.id == ticket_id))
        if found.first() is None:
            raise InvalidInput.on_field("body.ticket_id", "No such ticket")
    event = await record_event(
        session,
        tenant_id,
        EventKind.INSERTION,
        article_id=article_id,
        interaction_id=interaction_id,
        ticket_id=ticket_id,
    )
    if ticket_id is not None:
        await session.flush()
        schedule(
            session,
            JobKind.KNOWLEDGE_RESOLUTION,
            ref_id=event.id,
            due_at=utcnow() + FOLLOW_UP_EVERY,
        )
    return event


async def follow_up_insertion(session: AsyncSession, job: Job, now: datetime) -> None:
    """The job after an insertion on a ticket: a resolution once the ticket stayed resolved."""
    event = (
        await session.execute(select(KnowledgeEvent).where(KnowledgeEvent.id == job.ref_id))
    ).scalar_one_or_none()
    if event is None or event.ticket_id is None or now - event.created_at > FOLLOW_UP_FOR:
        return
    await use_tenant_scope(session, event.tenant_id)
    ticket = (
        await session.execute(select(Ticket).where(Ticket.id == event.ticket_id))
    ).scalar_one_or_none()
    if ticket is None:
        return
    tenant = (
        await session.execute(select(Tenant).where(Tenant.id == event.tenant_id))
    ).scalar_one()
    window = timedelta(days=(await ticket_settings(session, tenant)).reopen_days)
    seen = event.details.get("resolved_seen_at")
    if ticket.status not in DONE:
        event.details = {}
        schedule(
            session, JobKind.KNOWLEDGE_RESOLUTION, ref_id=event.id, due_at=now + FOLLOW_UP_EVERY
        )
        return
    if seen is None:
        event.details = {"resolved_seen_at": now.isoformat()}
        schedule(session, JobKind.KNOWLEDGE_RESOLUTION, ref_id=event.id, due_at=now + window)
        return
    if event.article_id is not None:
        await record_event(
            session,
            event.tenant_id,
            EventKind.RESOLUTION,
            article_id=event.article_id,
            ticket_id=event.ticket_id,
            now=now,
        )


JOB_HANDLERS: dict[str, JobHandler] = {JobKind.KNOWLEDGE_RESOLUTION: follow_up_insertion}
