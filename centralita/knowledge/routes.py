import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.api.deps import Paging, TenantContext, require
from centralita.api.idempotency import run_once
from centralita.errors import InvalidInput
from centralita.identity.permissions import Permission
from centralita.knowledge import reports, service, signals, suggestions
from centralita.knowledge.models import Article, ArticleState, EventKind, Visibility
from centralita.knowledge.render import render_markdown
from centralita.knowledge.schemas import (
    LOCALE_PATTERN,
    MAX_QUERY,
    ArticleCreate,
    ArticleDetail,
    ArticleOut,
    ArticleUpdate,
    CategoryIn,
    CategoryOut,
    CategoryUpdate,
    ClickIn,
    DeflectionOut,
    DiffOut,
    GapOut,
    InsertionIn,
    InsertionOut,
    PreviewIn,
    PreviewOut,
    Rollback,
    SearchHitOut,
    SearchOut,
    StateChange,
    SynonymsIn,
    SynonymsOut,
    TranslationOut,
    UnhelpfulOut,
    VersionOut,
    VoteIn,
)
from centralita.knowledge.search import Filters, Results, search
from centralita.knowledge.text import plain_text
from centralita.schemas import Page

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/knowledge", tags=["knowledge"])

Read = Annotated[TenantContext, Depends(require(Permission.KNOWLEDGE_READ))]
Write = Annotated[TenantContext, Depends(require(Permission.KNOWLEDGE_WRITE))]
Publish = Annotated[TenantContext, Depends(require(Permission.KNOWLEDGE_PUBLISH))]
Manage = Annotated[TenantContext, Depends(require(Permission.KNOWLEDGE_MANAGE))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
SearchText = Annotated[str, Query(max_length=MAX_QUERY)]
LocaleFilter = Annotated[str | None, Query(pattern=LOCALE_PATTERN)]
ReportDays = Annotated[int, Query(ge=1, le=365)]
ReportLimit = Annotated[int, Query(ge=1, le=200)]


async def _detail(session: AsyncSession, article: Article) -> ArticleDetail:
    others = await service.translations(session, article)
    return ArticleDetail(
        **ArticleOut.model_validate(article).model_dump(),
        translations=[TranslationOut.model_validate(a) for a in others],
    )


def _results(results: Results, search_id: uuid.UUID | None) -> SearchOut:
    return SearchOut(
        search_id=search_id,
        corrections=results.corrections,
        items=[
            SearchHitOut(
                id=hit.article.id,
                locale=hit.article.locale,
                title=hit.article.title,
                summary=hit.article.summary,
                visibility=hit.article.visibility,
                category_id=hit.article.category_id,
                score=hit.score,
                snippet_html=str(hit.snippet.html),
                snippet_text=hit.snippet.text,
            )
            for hit in results.hits
        ],
    )


# --- categories and synonyms ------------------------------------------------------------------


@router.get("/categories", response_model=list[CategoryOut])
async def list_categories(ctx: Read) -> list[Any]:
    return list(await service.list_categories(ctx.session))


@router.post("/categories", status_code=201, response_model=CategoryOut)
async def create_category(data: CategoryIn, ctx: Manage) -> Any:
    return await service.create_category(ctx.session, ctx.actor, ctx.tenant_id, data)


@router.patch("/categories/{knowledge_category_id}", response_model=CategoryOut)
async def update_category(
    knowledge_category_id: uuid.UUID, data: CategoryUpdate, ctx: Manage
) -> Any:
    return await service.update_category(ctx.session, ctx.actor, knowledge_category_id, data)


@router.get("/synonyms", response_model=list[SynonymsOut])
async def list_synonyms(ctx: Read) -> list[Any]:
    return list(await service.list_synonyms(ctx.session))


@router.post("/synonyms", status_code=201, response_model=SynonymsOut)
async def create_synonyms(data: SynonymsIn, ctx: Manage) -> Any:
    return await service.create_synonyms(ctx.session, ctx.actor, ctx.tenant_id, data)


@router.delete("/synonyms/{synonyms_id}", status_code=204)
async def delete_synonyms(synonyms_id: uuid.UUID, ctx: Manage) -> Response:
    await service.delete_synonyms(ctx.session, ctx.actor, synonyms_id)
    return Response(status_code=204)


# --- articles ---------------------------------------------------------------------------------


@router.get("/articles", response_model=Page[ArticleOut])
async def list_articles(
    ctx: Read,
    paging: Paging,
    state: ArticleState | None = None,
    locale: LocaleFilter = None,
    visibility: Visibility | None = None,
    category_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[ArticleOut]:
    page = await service.list_articles(
        ctx.session,
        state=state,
        locale=locale,
        visibility=visibility,
        category_id=category_id,
        q=q,
        cursor=paging.cursor,
        limit=paging.limit,
    )
    return Page(
        items=[ArticleOut.model_validate(a) for a in page.items], next_cursor=page.next_cursor
    )


@router.post("/articles", status_code=201, response_model=ArticleDetail)
async def create_article(
    data: ArticleCreate, ctx: Write, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    async def _create() -> tuple[int, Any]:
        article = await service.create_article(ctx.session, ctx.actor, ctx.tenant_id, data)
        return 201, (await _detail(ctx.session, article)).model_dump(mode="json")

    return await run_once(
        ctx.session, ctx.tenant_id, "knowledge.articles.create", idempotency_key, data, _create
    )


@router.get("/articles/{article_id}", response_model=ArticleDetail)
async def get_article(article_id: uuid.UUID, ctx: Read) -> ArticleDetail:
    return await _detail(ctx.session, await service.get_article(ctx.session, article_id))


@router.patch("/articles/{article_id}", response_model=ArticleDetail)
async def update_article(article_id: uuid.UUID, data: ArticleUpdate, ctx: Write) -> ArticleDetail:
    article = await service.update_article(ctx.session, ctx.actor, article_id, data)
    return await _detail(ctx.session, article)


@router.post("/articles/{article_id}/state", response_model=ArticleDetail)
async def change_state(article_id: uuid.UUID, data: StateChange, ctx: Write) -> ArticleDetail:
    """Writers send drafts to review; publishing and archiving take knowledge.publish."""
    if data.state in (ArticleState.PUBLISHED, ArticleState.ARCHIVED):
        await require(Permission.KNOWLEDGE_PUBLISH)(ctx)
    article = await service.change_state(ctx.session, ctx.actor, article_id, data.state)
    return await _detail(ctx.session, article)


@router.post("/preview", response_model=PreviewOut)
async def preview(data: PreviewIn, ctx: Write) -> PreviewOut:
    """A body rendered as saving it would (sanitised), without saving anything."""
    return PreviewOut(html=render_markdown(data.body_markdown))


@router.get("/articles/{article_id}/versions", response_model=list[VersionOut])
async def list_versions(article_id: uuid.UUID, ctx: Read) -> list[Any]:
    return list(await service.versions(ctx.session, article_id))


@router.get("/articles/{article_id}/diff", response_model=DiffOut)
async def diff_versions(
    article_id: uuid.UUID,
    ctx: Read,
    from_version: Annotated[int | None, Query(alias="from", ge=1)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1)] = None,
) -> DiffOut:
    """Two versions compared; by default the current one against the one before it."""
    article = await service.get_article(ctx.session, article_id)
    new = to_version or article.version
    old = from_version or max(new - 1, 1)
    unified = await service.diff(ctx.session, article_id, old, new)
    return DiffOut(from_version=old, to_version=new, unified=unified)


@router.post("/articles/{article_id}/rollback", response_model=ArticleDetail)
async def rollback(article_id: uuid.UUID, data: Rollback, ctx: Write) -> ArticleDetail:
    await service.get_article(ctx.session, article_id)
    article = await service.rollback(ctx.session, ctx.actor, article_id, data.version)
    return await _detail(ctx.session, article)


# --- search, learning, suggestions ------------------------------------------------------------


@router.get("/search", response_model=SearchOut)
async def search_articles(
    ctx: Read,
    q: SearchText = "",
    locale: LocaleFilter = None,
    category_id: uuid.UUID | None = None,
    public_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchOut:
    """Published articles, best first; any text is a valid query (nothing usable finds nothing)."""
    filters = Filters(locale=locale, category_id=category_id, public_only=public_only)
    results = await search(ctx.session, q, filters, limit=limit)
    search_id = None
    if results.query_key:
        logged = signals.record_search(
            ctx.session,
            ctx.tenant_id,
            query=q,
            key=results.query_key,
            locale=locale,
            source="agent",
            result_count=len(results.hits),
        )
        search_id = logged.id
    return _results(results, search_id)


@router.get("/suggestions", response_model=SearchOut)
async def suggest(
    ctx: Read,
    interaction_id: uuid.UUID | None = None,
    ticket_id: uuid.UUID | None = None,
    q: SearchText = "",
) -> SearchOut:
    """The five articles that best answer a conversation (or a ticket, or a text)."""
    results = await suggestions.suggest(
        ctx.session, interaction_id=interaction_id, ticket_id=ticket_id, text=q
    )
    return _results(results, None)


async def _published(ctx: TenantContext, article_id: uuid.UUID) -> Article:
    article = await service.get_article(ctx.session, article_id)
    if article.state != ArticleState.PUBLISHED:
        raise InvalidInput.on_field("path.article_id", "The article is not published")
    return article


@router.post("/articles/{article_id}/clicks", status_code=204)
async def record_click(article_id: uuid.UUID, data: ClickIn, ctx: Read) -> Response:
    await _published(ctx, article_id)
    await signals.record_event(
        ctx.session, ctx.tenant_id, EventKind.CLICK, article_id=article_id, search_id=data.search_id
    )
    return Response(status_code=204)


@router.post("/articles/{article_id}/votes", status_code=204)
async def vote(article_id: uuid.UUID, data: VoteIn, ctx: Read) -> Response:
    await _published(ctx, article_id)
    kind = EventKind.HELPFUL if data.helpful else EventKind.UNHELPFUL
    await signals.record_event(ctx.session, ctx.tenant_id, kind, article_id=article_id)
    return Response(status_code=204)


@router.post("/articles/{article_id}/insertions", status_code=201, response_model=InsertionOut)
async def insert_into_reply(article_id: uuid.UUID, data: InsertionIn, ctx: Read) -> InsertionOut:
    """The article, ready to paste into a reply; the insertion teaches the ranking."""
    article = await _published(ctx, article_id)
    await signals.record_insertion(
        ctx.session,
        ctx.tenant_id,
        article_id,
        interaction_id=data.interaction_id,
        ticket_id=data.ticket_id,
    )
    return InsertionOut(
        article_id=article.id,
        title=article.title,
        text=plain_text(article.body_html),
        html=article.body_html,
    )


# --- reports ----------------------------------------------------------------------------------


@router.get("/reports/gaps", response_model=list[GapOut])
async def content_gaps(ctx: Manage, days: ReportDays = 30, limit: ReportLimit = 50) -> list[Any]:
    """Questions that found nothing, or whose results nobody opened."""
    return list(await reports.content_gaps(ctx.session, days, limit))


@router.get("/reports/unhelpful", response_model=list[UnhelpfulOut])
async def never_helpful(ctx: Manage, limit: ReportLimit = 50) -> list[Any]:
    return list(await reports.never_helpful(ctx.session, limit))


@router.get("/reports/deflection", response_model=DeflectionOut)
async def deflection(ctx: Manage, days: ReportDays = 30) -> DeflectionOut:
    found = await reports.deflection(ctx.session, days)
    return DeflectionOut(
        days=found.days,
        self_service_sessions=found.self_service_sessions,
        deflected=found.deflected,
        rate=found.rate,
    )
