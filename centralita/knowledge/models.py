import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from centralita.db.base import Base, TenantEntity, TenantScoped, utcnow


class ArticleState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    ARCHIVED = "archived"


S = ArticleState

# The one table of allowed moves. Sending a published article back to draft unpublishes it.
TRANSITIONS: dict[ArticleState, frozenset[ArticleState]] = {
    S.DRAFT: frozenset({S.IN_REVIEW, S.PUBLISHED, S.ARCHIVED}),
    S.IN_REVIEW: frozenset({S.DRAFT, S.PUBLISHED, S.ARCHIVED}),
    S.PUBLISHED: frozenset({S.DRAFT, S.ARCHIVED}),
    S.ARCHIVED: frozenset({S.DRAFT}),
}


class Visibility(StrEnum):
    INTERNAL = "internal"
    PUBLIC = "public"


class EventKind(StrEnum):
    """What people did with the knowledge base; the learning and the reports read these."""

    VIEW = "view"
    CLICK = "click"
    HELPFUL = "helpful"
    UNHELPFUL = "unhelpful"
    INSERTION = "insertion"
    RESOLUTION = "resolution"
    # Portal actions that say whether self-service deflected the contact.
    TICKET_OPENED = "ticket_opened"
    CALLBACK_REQUESTED = "callback_requested"
    STATUS_LOOKUP = "status_lookup"


class KnowledgeCategory(TenantEntity, Base):
    __tablename__ = "knowledge_categories"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(300))


class Article(TenantEntity, Base):
    """One article in one language. Translations of each other share ``translation_group_id``.

    ``body_html`` is rendered from ``body_markdown`` and sanitised when saved, never when shown;
    the signal columns hold the use score, decayed to ``signal_at``."""

    __tablename__ = "knowledge_articles"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["knowledge_categories.tenant_id", "knowledge_categories.id"],
        ),
        UniqueConstraint("tenant_id", "translation_group_id", "locale"),
        Index("ix_knowledge_articles_state", "tenant_id", "state", "updated_at"),
        # Search's count of published articles per language, read from the index alone.
        Index("ix_knowledge_articles_locale_state", "tenant_id", "locale", "state"),
    )

    translation_group_id: Mapped[uuid.UUID]
    locale: Mapped[str] = mapped_column(String(5))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body_markdown: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    state: Mapped[ArticleState] = mapped_column(String(10))
    visibility: Mapped[Visibility] = mapped_column(String(10))
    category_id: Mapped[uuid.UUID | None]
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Metadata only (name, content_type, size, url); the files live in the tenant's storage.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_at: Mapped[datetime | None]
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    views: Mapped[int] = mapped_column(Integer, default=0)
    helpful_votes: Mapped[int] = mapped_column(Integer, default=0)
    unhelpful_votes: Mapped[int] = mapped_column(Integer, default=0)
    signal_score: Mapped[float] = mapped_column(Float, default=0.0)
    signal_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArticleVersion(TenantScoped, Base):
    """What an article said at each saved version: its history, diffs and rollbacks."""

    __tablename__ = "knowledge_article_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "article_id"],
            ["knowledge_articles.tenant_id", "knowledge_articles.id"],
            ondelete="CASCADE",
        ),
    )

    article_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500))
    body_markdown: Mapped[str] = mapped_column(Text)
    editor_label: Mapped[str] = mapped_column(String(200))
    editor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Synonyms(TenantEntity, Base):
    """Words a tenant's customers use for the same thing ("móvil", "celular", "teléfono")."""

    __tablename__ = "knowledge_synonyms"

    locale: Mapped[str | None] = mapped_column(String(5))
    terms: Mapped[list[str]] = mapped_column(JSON)


class Posting(TenantScoped, Base):
    """The inverted index: which published article holds which stemmed term, and how strongly.

    Plain rows with equality lookups, so PostgreSQL keeps using the index under row-level
    security (a text search or trigram operator is not leakproof and would not be), and SQLite
    and PostgreSQL answer alike. The filter columns are copied from the article, so a search
    reads this table alone until it has its best few.

    A term's postings are stored together and hold every column a search reads: SQLite keeps the
    rows in primary-key order (``WITHOUT ROWID``) and PostgreSQL's primary key includes the rest,
    so a search reads them from the index alone instead of visiting a table row per posting."""

    __tablename__ = "knowledge_postings"
    __table_args__ = (
        PrimaryKeyConstraint(
            "tenant_id",
            "term",
            "article_id",
            postgresql_include=["locale", "is_public", "category_id", "weight"],
        ),
        ForeignKeyConstraint(
            ["tenant_id", "article_id"],
            ["knowledge_articles.tenant_id", "knowledge_articles.id"],
            ondelete="CASCADE",
        ),
        Index("ix_knowledge_postings_article", "tenant_id", "article_id"),
        {"sqlite_with_rowid": False},
    )

    term: Mapped[str] = mapped_column(String(60), primary_key=True)
    article_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    locale: Mapped[str] = mapped_column(String(5))
    is_public: Mapped[bool]
    category_id: Mapped[uuid.UUID | None]
    weight: Mapped[float] = mapped_column(Float)


class WordGram(TenantScoped, Base):
    """Trigrams of every word the tenant's articles use, to correct a misspelt query word."""

    __tablename__ = "knowledge_word_grams"
    __table_args__ = (Index("ix_knowledge_word_grams_word", "tenant_id", "word"),)

    gram: Mapped[str] = mapped_column(String(3), primary_key=True)
    word: Mapped[str] = mapped_column(String(60), primary_key=True)


class Search(TenantEntity, Base):
    """One search someone ran, for the content-gap report, deflection and learning."""

    __tablename__ = "knowledge_searches"
    __table_args__ = (
        Index("ix_knowledge_searches_created", "tenant_id", "created_at"),
        Index("ix_knowledge_searches_key", "tenant_id", "query_key"),
    )

    query: Mapped[str] = mapped_column(String(300))
    # The query's stemmed terms, sorted: the same question asked in other words or order.
    query_key: Mapped[str] = mapped_column(String(300))
    locale: Mapped[str | None] = mapped_column(String(5))
    source: Mapped[str] = mapped_column(String(10))
    result_count: Mapped[int] = mapped_column(Integer)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    visitor: Mapped[str | None] = mapped_column(String(64))


class KnowledgeEvent(TenantEntity, Base):
    """Something done with an article or on the portal: views, clicks, votes, insertions into
    replies, resolutions, and the portal contacts that tell whether self-service deflected."""

    __tablename__ = "knowledge_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "article_id"],
            ["knowledge_articles.tenant_id", "knowledge_articles.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "search_id"],
            ["knowledge_searches.tenant_id", "knowledge_searches.id"],
        ),
        Index("ix_knowledge_events_kind_created", "tenant_id", "kind", "created_at"),
        Index("ix_knowledge_events_visitor", "tenant_id", "visitor", "created_at"),
        Index("ix_knowledge_events_article", "tenant_id", "article_id"),
        Index("ix_knowledge_events_client", "tenant_id", "client_key", "created_at"),
        Index("ix_knowledge_events_query", "tenant_id", "query_key", "kind"),
    )

    kind: Mapped[EventKind] = mapped_column(String(20))
    article_id: Mapped[uuid.UUID | None]
    search_id: Mapped[uuid.UUID | None]
    query_key: Mapped[str | None] = mapped_column(String(300))
    interaction_id: Mapped[uuid.UUID | None]
    ticket_id: Mapped[uuid.UUID | None]
    # A portal visitor's random cookie id (deflection), and a keyed hash of their address
    # (rate limits): never the address itself.
    visitor: Mapped[str | None] = mapped_column(String(64))
    client_key: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
