"""Search: one implementation, the same answers on SQLite and PostgreSQL.

A query is cut into words; each word becomes a group of alternative terms: its stem, its
synonyms' stems, words of the vocabulary it may be a misspelling of, and (typing) words it
begins. Postings are summed as BM25 (weight times rarity) in the database with equality lookups
only, which PostgreSQL serves from the index even under row-level security. The best candidates
are then re-ranked with what use has taught (see :mod:`centralita.knowledge.learning`).
"""

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz.distance import Levenshtein
from sqlalchemy import (
    ColumnElement,
    Float,
    ScalarSelect,
    Subquery,
    Text,
    case,
    cast,
    desc,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.base import utcnow
from centralita.db.scoping import TENANT_KEY
from centralita.knowledge import learning
from centralita.knowledge.models import Article, ArticleState, Posting, Synonyms, WordGram
from centralita.knowledge.text import (
    MAX_QUERY_WORDS,
    Snippet,
    is_stop_word,
    plain_text,
    rarity,
    snippet,
    stem,
    trigrams,
    typo_budget,
    words,
)

SEARCH_LOCALES = ("es", "en")
SYNONYM_BOOST = 0.8
CORRECTION_BOOST = 0.7
PREFIX_BOOST = 0.9
MAX_CORRECTIONS = 2
MAX_COMPLETIONS = 8
GRAM_CANDIDATES = 40
# How many text matches are re-ranked with the use signals.
CANDIDATES = 50
MAX_LIMIT = 50


@dataclass(frozen=True)
class Filters:
    locale: str | None = None
    category_id: uuid.UUID | None = None
    public_only: bool = False


@dataclass
class Group:
    """One query word and the terms that stand for it, each with its boost."""

    word: str
    terms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float
    text_score: float
    snippet: Snippet


@dataclass(frozen=True)
class Results:
    query_key: str
    hits: list[Hit]
    # Misspelt query words and the vocabulary words searched for instead.
    corrections: dict[str, str]


def _locales(filters: Filters) -> tuple[str, ...]:
    return (filters.locale,) if filters.locale else SEARCH_LOCALES


def _add(group: Group, word: str, locales: tuple[str, ...], boost: float) -> None:
    for locale in locales:
        term = stem(word, locale)[:60]
        group.terms[term] = max(group.terms.get(term, 0.0), boost)


def _synonym_map(entries: list[list[str]]) -> dict[str, set[str]]:
    """Each folded word and the words it is a synonym of, from the tenant's sets."""
    found: dict[str, set[str]] = {}
    for entry in entries:
        folded = {w for term in entry for w in words(term)}
        for word in folded:
            found.setdefault(word, set()).update(folded - {word})
    return found


def query_groups(
    query: str, locales: tuple[str, ...], synonyms: dict[str, set[str]]
) -> list[Group]:
    groups: list[Group] = []
    for word in dict.fromkeys(words(query)):
        if all(is_stop_word(word, locale) for locale in locales):
            continue
        group = Group(word)
        _add(group, word, locales, 1.0)
        for synonym in synonyms.get(word, ()):
            _add(group, synonym, locales, SYNONYM_BOOST)
        groups.append(group)
        if len(groups) == MAX_QUERY_WORDS:
            break
    return groups


def query_key(groups: list[Group]) -> str:
    """The same question however it is worded or ordered: its words' first stems, sorted."""
    return " ".join(sorted({next(iter(g.terms)) for g in groups}))[:300]


def _posting_filters(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.locale:
        conditions.append(Posting.locale == filters.locale)
    if filters.public_only:
        conditions.append(Posting.is_public.is_(True))
    if filters.category_id:
        conditions.append(Posting.category_id == filters.category_id)
    return conditions


async def _counts_and_synonyms(
    session: AsyncSession, terms: set[str], filters: Filters, locales: tuple[str, ...]
) -> tuple[dict[str, int], dict[str, set[str]]]:
    """How many indexed articles hold each term, and the tenant's synonyms: one round trip."""
    counts = (
        select(Posting.term, func.count(), cast(null(), Text))
        .where(Posting.term.in_(sorted(terms)), *_posting_filters(filters))
        .group_by(Posting.term)
    )
    synonym_sets = select(cast(null(), Text), literal(0), cast(Synonyms.terms, Text)).where(
        Synonyms.locale.is_(None) | Synonyms.locale.in_(locales)
    )
    found = dict.fromkeys(terms, 0)
    entries: list[list[str]] = []
    for term, count, entry in await session.execute(union_all(counts, synonym_sets)):
        if entry is None:
            found[term] = count
        else:
            entries.append(json.loads(entry))
    return found, _synonym_map(entries)


async def _corrections(session: AsyncSession, misspelt: list[str]) -> dict[str, list[str]]:
    """For each word, the vocabulary words within its typo budget, closest first; the words'
    candidates (most shared trigrams) are read in one statement."""
    if not misspelt:
        return {}
    shared = func.count().label("shared")
    per_word = [
        select(literal(position).label("position"), WordGram.word, shared)
        .where(WordGram.gram.in_(sorted(trigrams(word))))
        .group_by(WordGram.word)
        .order_by(shared.desc(), WordGram.word)
        .limit(GRAM_CANDIDATES)
        .subquery()
        .select()
        for position, word in enumerate(misspelt)
    ]
    candidates: dict[str, list[str]] = {word: [] for word in misspelt}
    for position, other, _ in await session.execute(union_all(*per_word)):
        candidates[misspelt[position]].append(other)
    found: dict[str, list[str]] = {}
    for word, others in candidates.items():
        budget = typo_budget(word)
        scored = [(Levenshtein.distance(word, o, score_cutoff=budget), o) for o in others]
        close = sorted((d, o) for d, o in scored if 0 < d <= budget)
        found[word] = [o for _, o in close[:MAX_CORRECTIONS]]
    return found


def _next_prefix(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


async def _completions(session: AsyncSession, prefix: str) -> list[str]:
    # A range rather than LIKE: text comparisons are leakproof, so the index serves it under RLS.
    query = (
        select(WordGram.word)
        .where(WordGram.word >= prefix, WordGram.word < _next_prefix(prefix))
        .distinct()
        .order_by(WordGram.word)
        .limit(MAX_COMPLETIONS)
    )
    return list((await session.execute(query)).scalars())


async def _widen(
    session: AsyncSession,
    groups: list[Group],
    counts: dict[str, int],
    locales: tuple[str, ...],
    typing: bool,
) -> dict[str, str]:
    """Add corrections to groups that match nothing, and completions to the word being typed.

    A term not counted yet (a synonym's) may match, so its group is not corrected."""
    unmatched: list[Group] = []
    for position, group in enumerate(groups):
        matches = any(counts.get(term, 1) for term in group.terms)
        if typing and position == len(groups) - 1 and len(group.word) >= 2:
            for word in await _completions(session, group.word):
                _add(group, word, locales, PREFIX_BOOST)
        if not matches and typo_budget(group.word):
            unmatched.append(group)
    found = await _corrections(session, [group.word for group in unmatched])
    corrections: dict[str, str] = {}
    for group in unmatched:
        for word in found[group.word]:
            corrections.setdefault(group.word, word)
            _add(group, word, locales, CORRECTION_BOOST)
    return corrections


# Rarity needs how many articles there are; a count a minute old ranks the same.
_counts: dict[tuple[uuid.UUID, str | None], tuple[float, int]] = {}
COUNT_TTL_S = 60.0


async def _published_count(session: AsyncSession, filters: Filters) -> int:
    tenant_id = session.info[TENANT_KEY]
    key = (tenant_id, filters.locale)
    cached = _counts.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    query = select(func.count()).select_from(Article).where(Article.state == ArticleState.PUBLISHED)
    if filters.locale:
        query = query.where(Article.locale == filters.locale)
    count = int((await session.execute(query)).scalar_one())
    _counts[key] = (time.monotonic() + COUNT_TTL_S, count)
    return count


def _document_count(term: str, filters: Filters) -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(Posting)
        .where(Posting.term == term, *_posting_filters(filters))
        .scalar_subquery()
    )


def _best_matches(
    groups: list[Group], counts: dict[str, int], documents: int, filters: Filters
) -> Subquery | None:
    """The articles whose postings sum highest, as BM25 (weight times rarity), best first.

    Terms added after counting (synonyms, corrections, completions) are counted within this
    statement, rather than in one more round trip."""
    boosts: dict[str, float] = {}
    for group in groups:
        for term, boost in group.terms.items():
            boosts[term] = max(boosts.get(term, 0.0), boost)
    values: dict[str, float | ColumnElement[float]] = {}
    for term, boost in boosts.items():
        if term not in counts:
            # rarity() rearranged to name the count once: 1 + (N - n + ½)/(n + ½) = (N + 1)/(n + ½)
            with_term = cast(_document_count(term, filters), Float)
            values[term] = literal(boost, Float) * func.ln((documents + 1.0) / (with_term + 0.5))
        elif counts[term]:
            values[term] = boost * rarity(documents, counts[term])
    if not values:
        return None
    score = func.sum(Posting.weight * case(values, value=Posting.term, else_=0.0))
    # Grouped by an expression, not the column: SQLite would otherwise walk the tenant's whole
    # (tenant_id, article_id) index to save a sort, instead of reading these terms' postings.
    article = func.coalesce(Posting.article_id, Posting.article_id)
    return (
        select(article.label("article_id"), score.label("score"))
        .where(Posting.term.in_(sorted(values)), *_posting_filters(filters))
        .group_by(article)
        .order_by(desc("score"), article)
        .limit(CANDIDATES)
        .subquery()
    )


async def _candidates(
    session: AsyncSession, best: Subquery, key: str, now: datetime
) -> list[tuple[Article, float, int]]:
    """The best matches' articles, text scores and clicks for this question, in one statement."""
    clicks = learning.question_clicks(key, now)
    query = (
        select(Article, best.c.score, func.coalesce(clicks.c.clicks, 0))
        .join(best, best.c.article_id == Article.id)
        .outerjoin(clicks, clicks.c.article_id == Article.id)
    )
    return [(a, float(s), int(c)) for a, s, c in (await session.execute(query)).all()]


async def search(
    session: AsyncSession,
    query: str,
    filters: Filters,
    *,
    limit: int = 10,
    typing: bool = False,
    now: datetime | None = None,
) -> Results:
    """The best published articles for ``query`` in the scoped tenant; never raises for odd
    input: a query with no usable words finds nothing."""
    now = now or utcnow()
    locales = _locales(filters)
    groups = query_groups(query, locales, {})
    key = query_key(groups)
    if not groups:
        return Results(key, [], {})
    counts, synonyms = await _counts_and_synonyms(
        session, {t for g in groups for t in g.terms}, filters, locales
    )
    if synonyms:
        groups = query_groups(query, locales, synonyms)
    corrections = await _widen(session, groups, counts, locales, typing)
    documents = max(await _published_count(session, filters), 1)
    best = _best_matches(groups, counts, documents, filters)
    candidates = await _candidates(session, best, key, now) if best is not None else []
    if not candidates:
        return Results(key, [], corrections)
    top = max(text for _, text, _ in candidates) or 1.0
    ranked = sorted(
        (
            (learning.blend(text / top, article, clicks, now), text / top, article)
            for article, text, clicks in candidates
        ),
        key=lambda item: (-item[0], item[2].id),
    )
    wanted = {t for g in groups for t in g.terms} | {g.word for g in groups}
    hits = [
        Hit(article, round(score, 4), round(text, 4), _snippet(article, wanted))
        for score, text, article in ranked[: max(1, min(limit, MAX_LIMIT))]
    ]
    return Results(key, hits, corrections)


def _snippet(article: Article, wanted: set[str]) -> Snippet:
    return snippet(
        f"{article.summary} {plain_text(article.body_html)}".strip(), wanted, article.locale
    )
