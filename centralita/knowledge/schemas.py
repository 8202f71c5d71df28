import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, Field, StringConstraints, field_validator

from centralita.knowledge.models import ArticleState, Visibility
from centralita.schemas import Read, Strict

MAX_BODY = 100_000
MAX_TAGS = 20
MAX_ATTACHMENTS = 20
MAX_QUERY = 10_000
LOCALE_PATTERN = r"^[a-z]{2}$"

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ArticleLocale = Annotated[str, Field(pattern=LOCALE_PATTERN, examples=["es", "en"])]
SynonymTerm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


def _unique(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else list(dict.fromkeys(values))


class AttachmentIn(Strict):
    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int = Field(ge=0)
    url: AnyHttpUrl = Field(max_length=2000)


class AttachmentOut(Read):
    name: str
    content_type: str
    size: int
    url: str


class ArticleCreate(Strict):
    """A new article, or with ``translation_of`` a translation of an existing one."""

    locale: ArticleLocale
    title: Title
    summary: str = Field(default="", max_length=500)
    body_markdown: str = Field(default="", max_length=MAX_BODY)
    visibility: Visibility = Visibility.INTERNAL
    category_id: uuid.UUID | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    translation_of: uuid.UUID | None = None

    _tags = field_validator("tags")(_unique)


class ArticleUpdate(Strict):
    """Changed content makes a new version; leave a field out to keep it."""

    title: Title | None = None
    summary: str | None = Field(default=None, max_length=500)
    body_markdown: str | None = Field(default=None, max_length=MAX_BODY)
    visibility: Visibility | None = None
    category_id: uuid.UUID | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    attachments: list[AttachmentIn] | None = Field(default=None, max_length=MAX_ATTACHMENTS)

    _tags = field_validator("tags")(_unique)


class PreviewIn(Strict):
    body_markdown: str = Field(max_length=MAX_BODY)


class PreviewOut(Read):
    html: str = Field(description="The Markdown rendered and sanitised, as it would be saved")


class StateChange(Strict):
    state: ArticleState


class Rollback(Strict):
    version: int = Field(ge=1)


class ArticleOut(Read):
    id: uuid.UUID
    translation_group_id: uuid.UUID
    locale: str
    title: str
    summary: str
    body_markdown: str
    body_html: str
    state: ArticleState
    visibility: Visibility
    category_id: uuid.UUID | None
    tags: list[str]
    attachments: list[AttachmentOut]
    version: int
    published_at: datetime | None
    views: int
    helpful_votes: int
    unhelpful_votes: int
    created_at: datetime
    updated_at: datetime


class TranslationOut(Read):
    id: uuid.UUID
    locale: str
    title: str
    state: ArticleState


class ArticleDetail(ArticleOut):
    translations: list[TranslationOut]


class VersionOut(Read):
    version: int
    title: str
    summary: str
    body_markdown: str
    editor_label: str
    created_at: datetime


class DiffOut(Read):
    from_version: int
    to_version: int
    unified: str


class CategoryIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=300)


class CategoryUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=300)


class CategoryOut(Read):
    id: uuid.UUID
    name: str
    description: str | None


class SynonymsIn(Strict):
    locale: ArticleLocale | None = None
    terms: list[SynonymTerm] = Field(min_length=2, max_length=20)

    _terms = field_validator("terms")(_unique)


class SynonymsOut(Read):
    id: uuid.UUID
    locale: str | None
    terms: list[str]


class SearchHitOut(Read):
    id: uuid.UUID
    locale: str
    title: str
    summary: str
    visibility: Visibility
    category_id: uuid.UUID | None
    score: float
    snippet_html: str = Field(description="Escaped text; the matched words in <mark>")
    snippet_text: str


class SearchOut(Read):
    search_id: uuid.UUID | None
    corrections: dict[str, str]
    items: list[SearchHitOut]


class ClickIn(Strict):
    search_id: uuid.UUID | None = None


class VoteIn(Strict):
    helpful: bool


class InsertionIn(Strict):
    interaction_id: uuid.UUID | None = None
    ticket_id: uuid.UUID | None = None


class InsertionOut(Read):
    article_id: uuid.UUID
    title: str
    text: str = Field(description="The article as plain text, to paste into a reply")
    html: str


class GapOut(Read):
    query: str
    searches: int
    with_results: int
    clicked: int
    last_searched_at: datetime


class UnhelpfulOut(Read):
    id: uuid.UUID
    title: str
    locale: str
    views: int
    helpful_votes: int
    unhelpful_votes: int


class DeflectionOut(Read):
    days: int
    self_service_sessions: int
    deflected: int
    rate: float | None
