"""What every HTML page stands on: locale, templates, the signed-in user, CSRF and error pages.

A page handler lives on a router built with :func:`page_router` and takes one of:

* :data:`AnyPage` - anyone, signed in or not (``page.viewer`` may be None);
* :data:`SignedInPage` - a signed-in user, or a 303 to ``/login?next=<this page>``;
* :data:`CsrfCheckedPage` - a signed-in user whose form carries the session's CSRF token in the
  ``csrf_token`` field, or 403. For form POSTs that change something.

and answers ``page.render("template.html", {...})``. Raising :class:`~centralita.errors.NotFound`,
:class:`~centralita.errors.Forbidden` (or any domain error) in a page answers a translated, styled
HTML error page and rolls back the request's writes; ``/api`` keeps problem+json.
"""

import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from centralita import __version__, i18n
from centralita.api.deps import SESSION_COOKIE, AppSettings, DbSession
from centralita.config import Settings
from centralita.db.scoping import use_system_scope
from centralita.errors import DomainError, Forbidden, RateLimited
from centralita.identity.models import User
from centralita.identity.service import Principal, principal_from_cookie

LANG_COOKIE = "centralita_lang"
LANG_PARAM = "lang"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600
CSRF_FIELD = "csrf_token"
HOME_PATH = "/home"
LOGIN_PATH = "/login"
TEMPLATES_DIR = Path(__file__).parent / "templates"
CHANNEL_LABELS = {
    "voice": i18n.gettext_noop("Phone"),
    "chat": i18n.gettext_noop("Chat"),
    "email": i18n.gettext_noop("Email"),
    "sms": i18n.gettext_noop("SMS"),
    "web": i18n.gettext_noop("Web form"),
    "callback": i18n.gettext_noop("Callback"),
    "task": i18n.gettext_noop("Back-office task"),
}

ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: (
        i18n.gettext_noop("The request could not be understood"),
        i18n.gettext_noop("Check the address or the form and try again."),
    ),
    403: (
        i18n.gettext_noop("Access denied"),
        i18n.gettext_noop(
            "Your account may not open this page, or the form expired. "
            "Go back, reload the page and try again."
        ),
    ),
    404: (
        i18n.gettext_noop("Page not found"),
        i18n.gettext_noop("The page you asked for does not exist or is not available to you."),
    ),
    429: (
        i18n.gettext_noop("Too many attempts"),
        i18n.gettext_noop("Wait a few minutes before trying again."),
    ),
}


def _environment(locale: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # Every value is escaped: tenant, user and (later) customer text is shown as text.
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # One environment per locale, because installed translations are environment globals and
    # concurrent requests in different languages must not share them.
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.TRANSLATIONS[locale], newstyle=True
    )
    environment.globals["version"] = __version__
    environment.filters["moment"] = lambda value, time_zone, style="medium": i18n.format_moment(
        value, locale, time_zone, style
    )
    environment.filters["day"] = lambda value, time_zone, style="long": i18n.format_day(
        value, locale, time_zone, style
    )
    environment.filters["clock"] = lambda value, time_zone: i18n.format_clock(
        value, locale, time_zone
    )
    environment.filters["number"] = lambda value: i18n.format_number(value, locale)
    environment.filters["language_name"] = lambda code: i18n.language_name(code, locale)
    environment.filters["share"] = lambda value: i18n.format_share(value, locale)
    environment.filters["duration"] = i18n.format_duration

    def channel_label(code: str) -> str:
        return i18n.TRANSLATIONS[locale].gettext(CHANNEL_LABELS.get(code, code))

    environment.filters["channel"] = channel_label
    return environment


ENVIRONMENTS = {locale: _environment(locale) for locale in i18n.LOCALES}


# --- locale ----------------------------------------------------------------------------------


def requested_locale(request: Request) -> str | None:
    value = request.query_params.get(LANG_PARAM)
    return value if value in i18n.LOCALES else None


def choose_locale(request: Request, user_locale: str | None, default: str) -> str:
    """An explicit switch, then the remembered switch, the user's locale, the browser's, default."""
    for candidate in (requested_locale(request), request.cookies.get(LANG_COOKIE), user_locale):
        if candidate in i18n.LOCALES:
            return str(candidate)
    return i18n.negotiate(request.headers.get("accept-language", "")) or default


def remember_language_choice(request: Request, response: Response, settings: Settings) -> None:
    locale = requested_locale(request)
    if locale is not None:
        response.set_cookie(
            LANG_COOKIE,
            locale,
            max_age=LANG_COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
        )


def _language_links(request: Request, locale: str) -> list[dict[str, Any]]:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != LANG_PARAM]
    return [
        {
            "code": code,
            "name": i18n.language_name(code, code),
            "href": f"{request.url.path}?{urlencode([*params, (LANG_PARAM, code)])}",
            "current": code == locale,
        }
        for code in i18n.LOCALES
    ]


def safe_next(url: str | None) -> str:
    """A local path to go to after sign-in; anything that could leave the site becomes /home."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return HOME_PATH
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        return HOME_PATH
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return HOME_PATH
    return url


def tokens_match(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (an attacker's) without failing."""
    return bool(given) and secrets.compare_digest(given.encode(), expected.encode())


# --- pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as pages show them."""

    principal: Principal
    name: str
    email: str
    csrf_token: str


def render(
    request: Request,
    settings: Settings,
    locale: str,
    template: str,
    context: Mapping[str, Any],
    *,
    viewer: Viewer | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    html = (
        ENVIRONMENTS[locale]
        .get_template(template)
        .render(
            {
                "locale": locale,
                "viewer": viewer,
                "language_links": _language_links(request, locale),
                "csrf_field": CSRF_FIELD,
                **context,
            }
        )
    )
    response = HTMLResponse(html, status_code, dict(headers or {}))
    # Pages carry personal data and per-user CSRF tokens: never from a shared cache.
    response.headers["Cache-Control"] = "no-store"
    remember_language_choice(request, response, settings)
    return response


@dataclass(frozen=True)
class Page:
    """One HTML request: its unit of work, locale and (if signed in) viewer."""

    request: Request
    session: AsyncSession
    settings: Settings
    locale: str
    viewer: Viewer | None

    def gettext(self, message: str) -> str:
        return i18n.TRANSLATIONS[self.locale].gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return i18n.TRANSLATIONS[self.locale].ngettext(singular, plural, count)

    def render(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        return render(
            self.request,
            self.settings,
            self.locale,
            template,
            context or {},
            viewer=self.viewer,
            status_code=status_code,
            headers=headers,
        )

    def redirect(self, url: str) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303)
        remember_language_choice(self.request, response, self.settings)
        return response


@dataclass(frozen=True)
class SignedIn(Page):
    viewer: Viewer

    @property
    def principal(self) -> Principal:
        return self.viewer.principal

    @property
    def csrf_token(self) -> str:
        return self.viewer.csrf_token


class LoginRequired(Exception):
    """Raised by :data:`SignedInPage`; a page router answers with a redirect to the login form."""


async def _page(request: Request, session: DbSession, settings: AppSettings) -> Page:
    # The session cookie is the user's identity on every tenant, so it is read in system scope;
    # a page that works inside one tenant switches the session to that tenant.
    await use_system_scope(session)
    viewer = None
    cookie = request.cookies.get(SESSION_COOKIE)
    principal = await principal_from_cookie(session, cookie) if cookie else None
    if principal is not None and principal.user_id is not None and principal.csrf_token:
        user = await session.get(User, principal.user_id)
        if user is not None:
            viewer = Viewer(principal, user.display_name, user.email, principal.csrf_token)
    user_locale = viewer.principal.locale if viewer else None
    locale = choose_locale(request, user_locale, settings.default_locale)
    page = Page(request, session, settings, locale, viewer)
    request.state.page = page
    return page


AnyPage = Annotated[Page, Depends(_page)]


async def _signed_in(page: AnyPage) -> SignedIn:
    if page.viewer is None:
        raise LoginRequired
    return SignedIn(page.request, page.session, page.settings, page.locale, page.viewer)


SignedInPage = Annotated[SignedIn, Depends(_signed_in)]


async def _csrf_checked(page: SignedInPage) -> SignedIn:
    form = await page.request.form()
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not tokens_match(token, page.csrf_token):
        raise Forbidden("Missing or wrong CSRF token")
    return page


CsrfCheckedPage = Annotated[SignedIn, Depends(_csrf_checked)]


# --- routing and error pages -----------------------------------------------------------------


def _login_redirect(request: Request, settings: Settings) -> RedirectResponse:
    url = LOGIN_PATH
    if request.method == "GET":
        query = [(k, v) for k, v in request.query_params.multi_items() if k != LANG_PARAM]
        here = request.url.path + (f"?{urlencode(query)}" if query else "")
        url += "?" + urlencode({"next": here})
    response = RedirectResponse(url, status_code=303)
    remember_language_choice(request, response, settings)
    return response


async def error_page(request: Request, exc: Exception) -> HTMLResponse:
    """A translated, styled error page; also answers unknown URLs outside the API."""
    settings: Settings = request.app.state.settings
    page: Page | None = getattr(request.state, "page", None)
    if page is not None:
        # The error answers the request, so the unit of work would commit: undo its writes.
        await page.session.rollback()
    if isinstance(exc, DomainError):
        status = exc.status
    elif isinstance(exc, HTTPException):
        status = exc.status_code
    else:
        status = 400
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimited) else None
    title, message = ERROR_TEXTS.get(status, ERROR_TEXTS[400])
    if page is not None:
        locale, viewer = page.locale, page.viewer
    else:
        locale, viewer = choose_locale(request, None, settings.default_locale), None
    return render(
        request,
        settings,
        locale,
        "error.html",
        {"status": status, "title": title, "message": message},
        viewer=viewer,
        status_code=status,
        headers=headers,
    )


class PageRoute(APIRoute):
    """A route that answers HTML: errors become error pages, a missing sign-in a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return _login_redirect(request, request.app.state.settings)
            except (DomainError, HTTPException, RequestValidationError) as exc:
                return await error_page(request, exc)

        return page_handler


def page_router() -> APIRouter:
    """A router for HTML pages; they stay out of the OpenAPI contract, which is for the API."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)
