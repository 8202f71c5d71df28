"""The knowledge editor: agents and administrators who may write articles list them, write and
edit them (Markdown, with a sanitised preview), link translations, move them through their states,
and compare and roll back versions.

As on the administration pages, forms post JSON to the public API through ``static/js/forms.js``,
so the API's validation applies and its problem+json field errors show beside the fields.
"""

import uuid
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response

from centralita.errors import InvalidInput, NotFound
from centralita.i18n import LOCALES, gettext_noop
from centralita.identity.permissions import Permission
from centralita.knowledge import service
from centralita.knowledge.models import TRANSITIONS, Article, ArticleState, Visibility
from centralita.web.desk import SCRIPT_TEXTS, tenant_for, texts
from centralita.web.pages import SignedIn, SignedInPage, page_router

router = page_router()

STATE_NAMES = {
    ArticleState.DRAFT: gettext_noop("Draft"),
    ArticleState.IN_REVIEW: gettext_noop("In review"),
    ArticleState.PUBLISHED: gettext_noop("Published"),
    ArticleState.ARCHIVED: gettext_noop("Archived"),
}
# What the button that moves an article to a state says.
STATE_ACTIONS = {
    ArticleState.DRAFT: gettext_noop("Back to draft"),
    ArticleState.IN_REVIEW: gettext_noop("Send to review"),
    ArticleState.PUBLISHED: gettext_noop("Publish"),
    ArticleState.ARCHIVED: gettext_noop("Archive"),
}
VISIBILITY_NAMES = {
    Visibility.INTERNAL: gettext_noop("Internal (agents only)"),
    Visibility.PUBLIC: gettext_noop("Public (help centre)"),
}
EDITOR_TEXTS = {
    "fix": gettext_noop("Please correct the following:"),
    "saved": gettext_noop("Saved."),
    "error": SCRIPT_TEXTS["error"],
    "empty_preview": gettext_noop("Nothing to preview yet."),
}
LIST_SIZE = 100


def _locale_filter(value: str | None) -> str | None:
    if value and value not in LOCALES:
        raise InvalidInput.on_field("query.locale", "Unknown language")
    return value or None


async def _common(page: SignedIn, slug: str) -> dict[str, Any]:
    tenant = await tenant_for(page, slug, Permission.KNOWLEDGE_WRITE)
    return {
        "tenant": tenant,
        "states": STATE_NAMES,
        "state_actions": STATE_ACTIONS,
        "visibilities": VISIBILITY_NAMES,
        "locales": LOCALES,
        "can_publish": page.principal.can(tenant.id, Permission.KNOWLEDGE_PUBLISH),
        "categories": await service.list_categories(page.session),
        "script_texts": texts(page, EDITOR_TEXTS),
    }


@router.get("/knowledge/{tenant_slug}")
async def article_list(
    page: SignedInPage,
    tenant_slug: str,
    state: ArticleState | None = None,
    locale: Annotated[str | None, Query(max_length=2)] = None,
) -> Response:
    context = await _common(page, tenant_slug)
    chosen = _locale_filter(locale)
    found = await service.list_articles(
        page.session,
        state=state,
        locale=chosen,
        visibility=None,
        category_id=None,
        q=None,
        cursor=None,
        limit=LIST_SIZE,
    )
    return page.render(
        "knowledge_list.html",
        {**context, "articles": found.items, "state": state, "locale": chosen},
    )


@router.get("/knowledge/{tenant_slug}/new")
async def new_article(
    page: SignedInPage,
    tenant_slug: str,
    translation_of: uuid.UUID | None = None,
    locale: Annotated[str | None, Query(max_length=2)] = None,
) -> Response:
    context = await _common(page, tenant_slug)
    original = None
    if translation_of is not None:
        original = await service.get_article(page.session, translation_of)
    chosen = _locale_filter(locale) or context["tenant"].default_locale
    return page.render(
        "knowledge_edit.html",
        {**context, "article": None, "original": original, "new_locale": chosen},
    )


@router.get("/knowledge/{tenant_slug}/{article_id}")
async def edit_article(
    page: SignedInPage,
    tenant_slug: str,
    article_id: uuid.UUID,
    diff: Annotated[int | None, Query(ge=2)] = None,
) -> Response:
    context = await _common(page, tenant_slug)
    article = await service.get_article(page.session, article_id)
    versions = await service.versions(page.session, article_id)
    shown_diff = None
    if diff is not None:
        if diff > article.version:
            raise NotFound("No such version")
        shown_diff = (diff, await service.diff(page.session, article_id, diff - 1, diff))
    translated = await service.translations(page.session, article)
    return page.render(
        "knowledge_edit.html",
        {
            **context,
            "article": article,
            "original": None,
            "versions": versions,
            "diff": shown_diff,
            "translations": translated,
            "missing_locales": _missing_locales(article, translated),
            "moves": _moves(article, context["can_publish"]),
        },
    )


def _missing_locales(article: Article, translated: list[Article]) -> list[str]:
    have = {article.locale, *(a.locale for a in translated)}
    return [code for code in LOCALES if code not in have]


def _moves(article: Article, can_publish: bool) -> list[ArticleState]:
    """The states this viewer can move the article to, in the order of the workflow."""
    allowed = TRANSITIONS[ArticleState(article.state)]
    publishing = {ArticleState.PUBLISHED, ArticleState.ARCHIVED}
    return [s for s in ArticleState if s in allowed and (can_publish or s not in publishing)]
