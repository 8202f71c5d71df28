"""The web self-service portal, ``/help/{tenant_slug}``: public articles, contact, status, callback.

Server-rendered pages that work without JavaScript; ``help-search.js`` adds search-as-you-type by
swapping in the results fragment. Forms are protected by a token derived from the visitor's
cookie (SameSite=Lax, so another site's form cannot send it).
"""

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Form, Query
from fastapi.responses import Response
from sqlalchemy import select

from centralita.channels.chat.service import widget_address
from centralita.customers.service import IdentityRules
from centralita.db.scoping import use_tenant_scope
from centralita.errors import Forbidden, InvalidInput, NotFound, RateLimited
from centralita.i18n import gettext_noop
from centralita.knowledge import portal_service, signals
from centralita.knowledge.models import Article, ArticleState, EventKind, Visibility
from centralita.knowledge.search import Filters, search
from centralita.knowledge.service import translations
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import get_tenant_by_slug
from centralita.web.pages import AnyPage, Page, page_router, tokens_match

router = page_router()

VISITOR_COOKIE = "centralita_visitor"
VISITOR_MAX_AGE_S = 180 * 24 * 3600
RESULTS = 8
POPULAR = 6

STATUS_TEXTS = {
    "new": gettext_noop("Received: we will look at it soon"),
    "open": gettext_noop("We are working on it"),
    "pending_customer": gettext_noop("Waiting for your reply"),
    "pending_third_party": gettext_noop("Waiting for a third party"),
    "on_hold": gettext_noop("On hold"),
    "resolved": gettext_noop("Resolved"),
    "closed": gettext_noop("Closed"),
}
# What the knowledge base's portal rules may say about a form field, translated here.
FORM_ERRORS = frozenset(
    {
        gettext_noop("Check this field"),
        gettext_noop("Enter a valid email address"),
        gettext_noop("Choose a time between now and 30 days ahead"),
        gettext_noop("We are closed then; choose a time we are open"),
        gettext_noop("Enter a valid phone number"),
    }
)
Text = Annotated[str, Form(max_length=200)]


class Portal:
    """One portal request: the tenant, the visitor and what their forms must carry."""

    def __init__(self, page: Page, tenant: Tenant, has_chat: bool) -> None:
        self.page, self.tenant, self.has_chat = page, tenant, has_chat
        cookie = page.request.cookies.get(VISITOR_COOKIE, "")
        self.new_visitor = not (
            16 <= len(cookie) <= 64 and cookie.replace("-", "").replace("_", "").isalnum()
        )
        self.visitor = secrets.token_urlsafe(24) if self.new_visitor else cookie

    @property
    def form_token(self) -> str:
        message = f"help-form:{self.tenant.id}:{self.visitor}".encode()
        return hmac.new(self.page.settings.secret_key.encode(), message, hashlib.sha256).hexdigest()

    def check_form(self, token: str) -> None:
        if self.new_visitor or not tokens_match(token, self.form_token):
            raise Forbidden("The form expired")

    @property
    def rules(self) -> IdentityRules:
        return IdentityRules.for_tenant(self.tenant, self.page.settings.secret_key)

    @property
    def base(self) -> str:
        return f"/help/{self.tenant.slug}"

    def render(self, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
        response = self.page.render(
            template,
            {
                "tenant": self.tenant,
                "base": self.base,
                "form_token": self.form_token,
                "has_chat": self.has_chat,
                **context,
            },
            status_code=status_code,
        )
        if self.new_visitor:
            response.set_cookie(
                VISITOR_COOKIE,
                self.visitor,
                max_age=VISITOR_MAX_AGE_S,
                httponly=True,
                samesite="lax",
                secure=self.page.settings.secure_cookies,
            )
        return response


async def _portal(page: Page, tenant_slug: str) -> Portal:
    tenant = await get_tenant_by_slug(page.session, tenant_slug)
    if tenant is None or not tenant.is_active:
        raise NotFound("No such help centre")
    await use_tenant_scope(page.session, tenant.id)
    return Portal(page, tenant, await widget_address(page.session) is not None)


async def _results(portal: Portal, q: str, typing: bool) -> dict[str, Any]:
    filters = Filters(locale=portal.page.locale, public_only=True)
    found = await search(portal.page.session, q, filters, limit=RESULTS, typing=typing)
    return {"q": q, "hits": found.hits, "searched": bool(found.query_key), "key": found.query_key}


async def _popular(portal: Portal) -> list[Article]:
    query = (
        select(Article)
        .where(
            Article.state == ArticleState.PUBLISHED,
            Article.visibility == Visibility.PUBLIC,
            Article.locale == portal.page.locale,
        )
        .order_by(Article.views.desc(), Article.id)
        .limit(POPULAR)
    )
    return list((await portal.page.session.execute(query)).scalars())


@router.get("/help/{tenant_slug}")
async def home(
    page: AnyPage, tenant_slug: str, q: Annotated[str, Query(max_length=10_000)] = ""
) -> Response:
    portal = await _portal(page, tenant_slug)
    context = await _results(portal, q, typing=False)
    if context["searched"]:
        signals.record_search(
            page.session,
            portal.tenant.id,
            query=q,
            key=context["key"],
            locale=page.locale,
            source="portal",
            result_count=len(context["hits"]),
            visitor=portal.visitor,
        )
    return portal.render("help/home.html", {**context, "popular": await _popular(portal)})


@router.get("/help/{tenant_slug}/search")
async def results_fragment(
    page: AnyPage, tenant_slug: str, q: Annotated[str, Query(max_length=10_000)] = ""
) -> Response:
    """The results list alone, for search-as-you-type; not logged (every keystroke asks)."""
    portal = await _portal(page, tenant_slug)
    return portal.render("help/_results.html", await _results(portal, q, typing=True))


async def _public_article(portal: Portal, article_id: uuid.UUID) -> Article:
    article = (
        await portal.page.session.execute(select(Article).where(Article.id == article_id))
    ).scalar_one_or_none()
    if (
        article is None
        or article.state != ArticleState.PUBLISHED
        or article.visibility != Visibility.PUBLIC
    ):
        raise NotFound("No such article")
    return article


@router.get("/help/{tenant_slug}/articles/{article_id}")
async def article_page(
    page: AnyPage,
    tenant_slug: str,
    article_id: uuid.UUID,
    q: Annotated[str, Query(max_length=300)] = "",
    voted: bool = False,
) -> Response:
    """An article; opened from a search (``q``), it is that search's click."""
    portal = await _portal(page, tenant_slug)
    article = await _public_article(portal, article_id)
    session, tenant_id = page.session, portal.tenant.id
    search_id = None
    if q and not voted:
        found = await search(session, q, Filters(locale=article.locale, public_only=True))
        if found.query_key:
            search_id = signals.record_search(
                session,
                tenant_id,
                query=q,
                key=found.query_key,
                locale=article.locale,
                source="portal",
                result_count=len(found.hits),
                visitor=portal.visitor,
            ).id
            await session.flush()
    if not voted:
        await signals.record_event(
            session, tenant_id, EventKind.VIEW, article_id=article.id, visitor=portal.visitor
        )
        if search_id is not None:
            await signals.record_event(
                session,
                tenant_id,
                EventKind.CLICK,
                article_id=article.id,
                search_id=search_id,
                visitor=portal.visitor,
            )
    others = [
        a
        for a in await translations(session, article)
        if a.state == ArticleState.PUBLISHED and a.visibility == Visibility.PUBLIC
    ]
    return portal.render(
        "help/article.html", {"article": article, "translations": others, "voted": voted}
    )


@router.post("/help/{tenant_slug}/articles/{article_id}/vote")
async def vote(
    page: AnyPage,
    tenant_slug: str,
    article_id: uuid.UUID,
    helpful: Annotated[str, Form(pattern="^(yes|no)$")],
    form_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    portal = await _portal(page, tenant_slug)
    portal.check_form(form_token)
    article = await _public_article(portal, article_id)
    kind = EventKind.HELPFUL if helpful == "yes" else EventKind.UNHELPFUL
    await signals.record_event(
        page.session, portal.tenant.id, kind, article_id=article.id, visitor=portal.visitor
    )
    return page.redirect(f"{portal.base}/articles/{article.id}?voted=1")


@router.get("/help/{tenant_slug}/contact")
async def contact_form(page: AnyPage, tenant_slug: str) -> Response:
    portal = await _portal(page, tenant_slug)
    return portal.render("help/contact.html", {"values": {}, "errors": {}, "reference": None})


def _field_errors(exc: InvalidInput, page: Page) -> dict[str, str]:
    """Per form field, what is wrong with it, in the visitor's language."""
    return {
        e.field.split(".")[-1]: page.gettext(
            e.message if e.message in FORM_ERRORS else "Check this field"
        )
        for e in exc.errors
    }


@router.post("/help/{tenant_slug}/contact")
async def contact(
    page: AnyPage,
    tenant_slug: str,
    email: Annotated[str, Form(max_length=254)] = "",
    subject: Text = "",
    message: Annotated[str, Form(max_length=10_000)] = "",
    name: Text = "",
    form_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A ticket from the form. The confirmation email is the email channel's to send."""
    portal = await _portal(page, tenant_slug)
    portal.check_form(form_token)
    values = {
        "email": email,
        "subject": subject.strip(),
        "message": message.strip(),
        "name": name.strip(),
    }
    errors = {}
    if not values["subject"]:
        errors["subject"] = page.gettext("Tell us what it is about")
    if not values["message"]:
        errors["message"] = page.gettext("Tell us what happened")
    reference = None
    if not errors:
        try:
            reference = await portal_service.open_ticket(
                page.session,
                portal.tenant,
                portal.rules,
                portal_service.ContactForm(
                    values["name"], email, values["subject"], values["message"]
                ),
                portal.visitor,
            )
        except InvalidInput as exc:
            errors = _field_errors(exc, page)
    status = 422 if errors else 201
    return portal.render(
        "help/contact.html",
        {"values": values, "errors": errors, "reference": reference},
        status_code=status,
    )


@router.get("/help/{tenant_slug}/status")
async def status_form(page: AnyPage, tenant_slug: str) -> Response:
    portal = await _portal(page, tenant_slug)
    return portal.render("help/status.html", {"looked_up": False, "found": None, "error": None})


@router.post("/help/{tenant_slug}/status")
async def status(
    page: AnyPage,
    tenant_slug: str,
    number: Annotated[str, Form(max_length=30)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    form_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    portal = await _portal(page, tenant_slug)
    portal.check_form(form_token)
    client = page.request.client
    key = portal_service.client_key(
        page.settings.secret_key, portal.tenant.id, client.host if client else "unknown"
    )
    try:
        found = await portal_service.look_up(
            page.session, portal.tenant, number, email, key, portal.visitor
        )
    except RateLimited:
        error = page.gettext("Too many lookups. Try again in a few minutes.")
        return portal.render(
            "help/status.html", {"looked_up": False, "found": None, "error": error}, status_code=429
        )
    return portal.render(
        "help/status.html",
        {
            "looked_up": True,
            "found": found,
            "status_text": page.gettext(STATUS_TEXTS[found.status]) if found else None,
            "error": None,
        },
    )


@router.get("/help/{tenant_slug}/callback")
async def callback_form(page: AnyPage, tenant_slug: str) -> Response:
    portal = await _portal(page, tenant_slug)
    return portal.render("help/callback.html", {"values": {}, "errors": {}, "booked": None})


@router.post("/help/{tenant_slug}/callback")
async def callback(
    page: AnyPage,
    tenant_slug: str,
    phone: Annotated[str, Form(max_length=40)] = "",
    when: Annotated[str, Form(max_length=30)] = "",
    name: Text = "",
    form_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A callback at a time the tenant is open; ``when`` is local time in its time zone."""
    portal = await _portal(page, tenant_slug)
    portal.check_form(form_token)
    values = {"phone": phone, "when": when, "name": name.strip()}
    errors: dict[str, str] = {}
    booked = None
    try:
        at = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(portal.tenant.time_zone))
    except ValueError:
        errors["when"] = page.gettext("Choose a day and a time")
    if not errors:
        try:
            await portal_service.request_callback(
                page.session,
                portal.tenant,
                portal.rules,
                name=values["name"],
                phone=phone,
                at=at,
                locale=page.locale,
                visitor=portal.visitor,
            )
            booked = at
        except InvalidInput as exc:
            errors = _field_errors(exc, page)
    return portal.render(
        "help/callback.html",
        {"values": values, "errors": errors, "booked": booked},
        status_code=422 if errors else 201,
    )
