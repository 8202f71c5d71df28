"""Articles: writing them, their versions, translations and states, categories and synonyms.

Every change is audited against the article; a content change is a new version. The search index
is rewritten in the same transaction, and ``article.published`` goes out after commit.
"""

import difflib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import new_id, utcnow
from centralita.db.paging import Slice, paginate
from centralita.errors import Conflict, InvalidInput, NotFound
from centralita.events.bus import Event, emit, tenant_topic
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.knowledge.index import reindex
from centralita.knowledge.models import (
    TRANSITIONS,
    Article,
    ArticleState,
    ArticleVersion,
    KnowledgeCategory,
    Synonyms,
    Visibility,
)
from centralita.knowledge.render import render_markdown
from centralita.knowledge.schemas import (
    ArticleCreate,
    ArticleUpdate,
    CategoryIn,
    CategoryUpdate,
    SynonymsIn,
)
from centralita.knowledge.text import fold

CONTENT_FIELDS = ("title", "summary", "body_markdown")
ENTITY = "knowledge_article"


def _announce(session: AsyncSession, kind: str, article: Article) -> None:
    emit(
        session,
        Event(
            type=kind,
            tenant=article.tenant_id,
            data={
                "article_id": article.id,
                "locale": article.locale,
                "state": article.state,
                "visibility": article.visibility,
                "version": article.version,
            },
            recipients=(tenant_topic(article.tenant_id),),
        ),
    )


# --- categories -------------------------------------------------------------------------------


async def get_category(session: AsyncSession, category_id: uuid.UUID) -> KnowledgeCategory:
    query = select(KnowledgeCategory).where(KnowledgeCategory.id == category_id)
    category = (await session.execute(query)).scalar_one_or_none()
    if category is None:
        raise NotFound("Category not found")
    return category


async def list_categories(session: AsyncSession) -> list[KnowledgeCategory]:
    query = select(KnowledgeCategory).order_by(KnowledgeCategory.name)
    return list((await session.execute(query)).scalars())


async def _flush_unique(session: AsyncSession, message: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


async def create_category(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: CategoryIn
) -> KnowledgeCategory:
    category = KnowledgeCategory(tenant_id=tenant_id, id=new_id(), **data.model_dump())
    session.add(category)
    await _flush_unique(session, "A category with this name already exists")
    record_audit(
        session,
        tenant_id,
        actor,
        "knowledge_category.created",
        ("knowledge_category", category.id),
        after=data.model_dump(),
    )
    return category


async def update_category(
    session: AsyncSession, actor: Actor, category_id: uuid.UUID, data: CategoryUpdate
) -> KnowledgeCategory:
    category = await get_category(session, category_id)
    sent = data.model_dump(exclude_unset=True)
    if sent.get("name") is None:
        sent.pop("name", None)
    before, after = apply_changes(category, sent)
    if after:
        await _flush_unique(session, "A category with this name already exists")
        record_audit(
            session,
            category.tenant_id,
            actor,
            "knowledge_category.updated",
            ("knowledge_category", category.id),
            before,
            after,
        )
    return category


# --- articles ---------------------------------------------------------------------------------


async def get_article(session: AsyncSession, article_id: uuid.UUID) -> Article:
    article = (
        await session.execute(select(Article).where(Article.id == article_id))
    ).scalar_one_or_none()
    if article is None:
        raise NotFound("Article not found")
    return article


async def _checked_category(session: AsyncSession, category_id: uuid.UUID | None) -> None:
    if category_id is None:
        return
    found = await session.execute(
        select(KnowledgeCategory.id).where(KnowledgeCategory.id == category_id)
    )
    if found.first() is None:
        raise InvalidInput.on_field("body.category_id", "No such category")


def _snapshot(article: Article, actor: Actor) -> ArticleVersion:
    return ArticleVersion(
        tenant_id=article.tenant_id,
        article_id=article.id,
        version=article.version,
        title=article.title,
        summary=article.summary,
        body_markdown=article.body_markdown,
        editor_label=actor.label,
        editor_user_id=actor.user_id,
    )


def _audited(article: Article) -> dict[str, Any]:
    return {
        "locale": article.locale,
        "title": article.title,
        "state": article.state,
        "visibility": article.visibility,
        "version": article.version,
        "category_id": article.category_id,
        "tags": article.tags,
    }


async def create_article(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: ArticleCreate
) -> Article:
    """A new draft: a first article, or a translation joining ``translation_of``'s group."""
    await _checked_category(session, data.category_id)
    group_id = new_id()
    if data.translation_of is not None:
        try:
            group_id = (await get_article(session, data.translation_of)).translation_group_id
        except NotFound as exc:
            raise InvalidInput.on_field("body.translation_of", "No such article") from exc
    article = Article(
        tenant_id=tenant_id,
        id=new_id(),
        translation_group_id=group_id,
        locale=data.locale,
        title=data.title,
        summary=data.summary,
        body_markdown=data.body_markdown,
        body_html=render_markdown(data.body_markdown),
        state=ArticleState.DRAFT,
        visibility=data.visibility,
        category_id=data.category_id,
        tags=data.tags,
        attachments=[a.model_dump(mode="json") for a in data.attachments],
        version=1,
        author_user_id=actor.user_id,
        signal_at=utcnow(),
    )
    session.add(article)
    await _flush_unique(session, "This article already has a translation in that language")
    session.add(_snapshot(article, actor))
    record_audit(
        session,
        tenant_id,
        actor,
        "knowledge_article.created",
        (ENTITY, article.id),
        after=_audited(article),
    )
    return article


async def update_article(
    session: AsyncSession, actor: Actor, article_id: uuid.UUID, data: ArticleUpdate
) -> Article:
    article = await get_article(session, article_id)
    sent = data.model_dump(exclude_unset=True, mode="json")
    sent = {k: v for k, v in sent.items() if v is not None or k == "category_id"}
    if "category_id" in sent:
        sent["category_id"] = data.category_id
        await _checked_category(session, data.category_id)
    before, after = apply_changes(article, sent)
    if not after:
        return article
    if any(name in after for name in CONTENT_FIELDS):
        article.version += 1
        article.body_html = render_markdown(article.body_markdown)
        session.add(_snapshot(article, actor))
    await reindex(session, [article])
    record_audit(
        session,
        article.tenant_id,
        actor,
        "knowledge_article.updated",
        (ENTITY, article.id),
        _clip(before),
        _clip(after),
    )
    _announce(session, "article.updated", article)
    return article


def _clip(values: dict[str, Any]) -> dict[str, Any]:
    """Long bodies are in the versions; the audit log says that they changed."""
    return {k: (f"{len(v)} characters" if k == "body_markdown" else v) for k, v in values.items()}


async def change_state(
    session: AsyncSession, actor: Actor, article_id: uuid.UUID, state: ArticleState
) -> Article:
    article = await get_article(session, article_id)
    if state == article.state:
        return article
    if state not in TRANSITIONS[article.state]:
        raise Conflict(f"An article in {article.state} cannot move to {state}", "bad-transition")
    before = {"state": article.state}
    article.state = state
    if state == ArticleState.PUBLISHED:
        article.published_at = utcnow()
    await reindex(session, [article])
    record_audit(
        session,
        article.tenant_id,
        actor,
        "knowledge_article.state_changed",
        (ENTITY, article.id),
        before,
        {"state": state},
    )
    _announce(
        session, f"article.{'published' if state == 'published' else 'state_changed'}", article
    )
    return article


async def list_articles(
    session: AsyncSession,
    *,
    state: ArticleState | None,
    locale: str | None,
    visibility: Visibility | None,
    category_id: uuid.UUID | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> Slice[Article]:
    """Articles for editors, newest change first; ``q`` matches words of the title."""
    query = select(Article)
    if state:
        query = query.where(Article.state == state)
    if locale:
        query = query.where(Article.locale == locale)
    if visibility:
        query = query.where(Article.visibility == visibility)
    if category_id:
        query = query.where(Article.category_id == category_id)
    if q and q.strip():
        # Editors look for a title they know; a search of content is what /search is for.
        query = query.where(Article.title.ilike(f"%{q.strip()[:200]}%"))
    return await paginate(
        session, query, (Article.updated_at, Article.id), cursor=cursor, limit=limit
    )


async def translations(session: AsyncSession, article: Article) -> list[Article]:
    query = (
        select(Article)
        .where(
            Article.translation_group_id == article.translation_group_id, Article.id != article.id
        )
        .order_by(Article.locale)
    )
    return list((await session.execute(query)).scalars())


# --- versions ---------------------------------------------------------------------------------


async def versions(session: AsyncSession, article_id: uuid.UUID) -> list[ArticleVersion]:
    await get_article(session, article_id)
    query = (
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article_id)
        .order_by(ArticleVersion.version.desc())
    )
    return list((await session.execute(query)).scalars())


async def get_version(session: AsyncSession, article_id: uuid.UUID, version: int) -> ArticleVersion:
    found = (
        await session.execute(
            select(ArticleVersion).where(
                ArticleVersion.article_id == article_id, ArticleVersion.version == version
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("Version not found")
    return found


def _lines(version: ArticleVersion) -> list[str]:
    return [f"# {version.title}", "", version.summary, "", *version.body_markdown.splitlines()]


async def diff(session: AsyncSession, article_id: uuid.UUID, old: int, new: int) -> str:
    """A unified diff of title, summary and body between two versions."""
    before, after = (
        await get_version(session, article_id, old),
        await get_version(session, article_id, new),
    )
    return "\n".join(
        difflib.unified_diff(
            _lines(before), _lines(after), f"version {old}", f"version {new}", lineterm=""
        )
    )


async def rollback(
    session: AsyncSession, actor: Actor, article_id: uuid.UUID, version: int
) -> Article:
    """Bring back what version ``version`` said, as a new version (history is never rewritten)."""
    old = await get_version(session, article_id, version)
    try:
        return await update_article(
            session,
            actor,
            article_id,
            ArticleUpdate(title=old.title, summary=old.summary, body_markdown=old.body_markdown),
        )
    except InvalidInput as exc:
        raise InvalidInput.on_field("body.version", exc.detail) from exc


# --- synonyms ---------------------------------------------------------------------------------


async def list_synonyms(session: AsyncSession) -> list[Synonyms]:
    return list((await session.execute(select(Synonyms).order_by(Synonyms.created_at))).scalars())


async def create_synonyms(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: SynonymsIn
) -> Synonyms:
    if len({fold(t) for t in data.terms}) < 2:
        raise InvalidInput.on_field("body.terms", "Give at least two different words")
    row = Synonyms(tenant_id=tenant_id, id=new_id(), locale=data.locale, terms=data.terms)
    session.add(row)
    record_audit(
        session,
        tenant_id,
        actor,
        "knowledge_synonyms.created",
        ("knowledge_synonyms", row.id),
        after=data.model_dump(),
    )
    return row


async def delete_synonyms(session: AsyncSession, actor: Actor, synonyms_id: uuid.UUID) -> None:
    row = (
        await session.execute(select(Synonyms).where(Synonyms.id == synonyms_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("Synonyms not found")
    record_audit(
        session,
        row.tenant_id,
        actor,
        "knowledge_synonyms.deleted",
        ("knowledge_synonyms", row.id),
        before={"terms": row.terms},
    )
    await session.delete(row)
