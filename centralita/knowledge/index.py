"""Keeping the search index in step with the articles: postings and the vocabulary's trigrams.

Only published articles are in the index, so every search reads published content only. Each
change to an article rewrites its postings in the transaction of the change.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.knowledge.models import Article, ArticleState, Posting, Visibility, WordGram
from centralita.knowledge.text import (
    is_stop_word,
    plain_text,
    term_weights,
    trigrams,
    words,
)

# Enough rows per INSERT to be quick, few enough to stay under SQLite's bound-parameter limit.
CHUNK = 400


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def vocabulary(article: Article) -> set[str]:
    text = f"{article.title} {article.summary} {' '.join(article.tags)} {article.body_markdown}"
    return {w for w in words(text) if len(w) >= 3 and not is_stop_word(w, article.locale)}


def postings_of(article: Article) -> list[dict[str, Any]]:
    if article.state != ArticleState.PUBLISHED:
        return []
    weights = term_weights(
        article.locale, article.title, article.summary, article.tags, plain_text(article.body_html)
    )
    return [
        {
            "tenant_id": article.tenant_id,
            "term": term[:60],
            "article_id": article.id,
            "locale": article.locale,
            "is_public": article.visibility == Visibility.PUBLIC,
            "category_id": article.category_id,
            "weight": weight,
        }
        for term, weight in weights.items()
    ]


async def _add_words(session: AsyncSession, tenant_id: uuid.UUID, new_words: set[str]) -> None:
    if not new_words:
        return
    known: set[str] = set()
    listed = sorted(new_words)
    for start in range(0, len(listed), CHUNK):
        query = select(WordGram.word).where(WordGram.word.in_(listed[start : start + CHUNK]))
        known.update((await session.execute(query.distinct())).scalars())
    rows = [
        {"tenant_id": tenant_id, "gram": gram, "word": word}
        for word in listed
        if word not in known
        for gram in trigrams(word)
    ]
    for start in range(0, len(rows), CHUNK):
        # A concurrent save may add the same word first: its grams are the same.
        statement = _insert(session, WordGram).values(rows[start : start + CHUNK])
        await session.execute(statement.on_conflict_do_nothing())


async def reindex(session: AsyncSession, articles: Sequence[Article]) -> None:
    """Rewrite the postings of these articles (of one tenant) from what they say now."""
    if not articles:
        return
    ids = [article.id for article in articles]
    await session.execute(delete(Posting).where(Posting.article_id.in_(ids)))
    rows = [row for article in articles for row in postings_of(article)]
    for start in range(0, len(rows), CHUNK):
        await session.execute(_insert(session, Posting).values(rows[start : start + CHUNK]))
    published = [a for a in articles if a.state == ArticleState.PUBLISHED]
    if published:
        await _add_words(
            session, published[0].tenant_id, set().union(*(vocabulary(a) for a in published))
        )
