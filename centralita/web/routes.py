"""The web shell: sign-in, sign-out and the landing page of each role."""

import re
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.routing import Match

from centralita.api.deps import SESSION_COOKIE, AppPasswords
from centralita.db.base import utcnow
from centralita.errors import RateLimited
from centralita.i18n import gettext_noop
from centralita.identity.permissions import Role
from centralita.identity.service import close_web_session, open_web_session, sign_in
from centralita.web import service
from centralita.web.pages import (
    HOME_PATH,
    LOGIN_PATH,
    AnyPage,
    CsrfCheckedPage,
    Page,
    SignedInPage,
    page_router,
    safe_next,
    tokens_match,
)

LOGIN_CSRF_COOKIE = "centralita_csrf"
LOGIN_CSRF_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
MAX_EMAIL_LENGTH = 254
MAX_PASSWORD_LENGTH = 1024

router = page_router()


@dataclass(frozen=True)
class WorkspaceEntry:
    """What a role opens in a tenant; ``path`` is linked once that page is served."""

    path: str
    title: str
    description: str


ENTRIES: dict[Role, WorkspaceEntry] = {
    Role.AGENT: WorkspaceEntry(
        "/agent",
        gettext_noop("Agent desktop"),
        gettext_noop(
            "Take the chats, calls and emails routed to you, "
            "with the customer's whole history beside them."
        ),
    ),
    Role.SUPERVISOR: WorkspaceEntry(
        "/supervisor",
        gettext_noop("Wallboard"),
        gettext_noop(
            "Follow queues, service level and agents live, and act when a queue falls behind."
        ),
    ),
    Role.ADMIN: WorkspaceEntry(
        "/admin",
        gettext_noop("Administration"),
        gettext_noop(
            "Manage users and roles, queues, SLA policies, business calendars and channels."
        ),
    ),
    Role.CLIENT_VIEWER: WorkspaceEntry(
        "/client",
        gettext_noop("Service reports"),
        gettext_noop(
            "Service level, volume by channel, abandonment and satisfaction of your service."
        ),
    ),
}

ROLE_LABELS: dict[Role | None, str] = {
    Role.ADMIN: gettext_noop("Administrator"),
    Role.SUPERVISOR: gettext_noop("Supervisor"),
    Role.AGENT: gettext_noop("Agent"),
    Role.CLIENT_VIEWER: gettext_noop("Client manager"),
    None: gettext_noop("Platform administrator"),
}

ROLE_COUNT_LABELS: dict[Role, str] = {
    Role.ADMIN: gettext_noop("Administrators"),
    Role.SUPERVISOR: gettext_noop("Supervisors"),
    Role.AGENT: gettext_noop("Agents"),
    Role.CLIENT_VIEWER: gettext_noop("Client managers"),
}


def _serves(request: Request, path: str) -> bool:
    """Whether the application answers GET ``path``, so a workspace links only to real pages."""
    probe = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    return any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes)


def _login_form(
    page: Page,
    next_url: str | None,
    *,
    error: str | None = None,
    notice: str | None = None,
    email: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The sign-in form, with a double-submit CSRF token: the same random value in a cookie that
    another site cannot read or set, and in a hidden field."""
    token = page.request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not LOGIN_CSRF_PATTERN.match(token):
        token = secrets.token_urlsafe(32)
    context = {
        "login_csrf": token,
        "next": safe_next(next_url),
        "error": error,
        "notice": notice,
        "email": email,
    }
    response = page.render("login.html", context, status_code=status_code, headers=headers)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=page.settings.secure_cookies,
        path=LOGIN_PATH,
    )
    return response


@router.get("/")
async def root(page: AnyPage) -> Response:
    return page.redirect(HOME_PATH if page.viewer else LOGIN_PATH)


@router.get("/login")
async def login_form(
    page: AnyPage,
    next_url: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    signed_out: bool = False,
) -> Response:
    if page.viewer is not None:
        return page.redirect(safe_next(next_url))
    notice = page.gettext("You have signed out.") if signed_out else None
    return _login_form(page, next_url, notice=notice)


@router.post("/login")
async def login(
    page: AnyPage,
    passwords: AppPasswords,
    email: Annotated[str, Form(max_length=MAX_EMAIL_LENGTH)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    cookie = page.request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (cookie and tokens_match(csrf_token, cookie)):
        return _login_form(
            page,
            next_url,
            error=page.gettext("The sign-in form expired. Please sign in again."),
            email=email,
            status_code=403,
        )
    if not email.strip() or not password:
        return _login_form(
            page,
            next_url,
            error=page.gettext("Enter your email and your password."),
            email=email,
            status_code=422,
        )
    client = page.request.client
    try:
        result = await sign_in(
            page.session,
            passwords,
            page.settings,
            email=email,
            password=password,
            ip=client.host if client else "unknown",
        )
    except RateLimited as exc:
        minutes = max(1, exc.retry_after_s // 60)
        message = page.ngettext(
            "Too many failed attempts. Try again in %(num)d minute.",
            "Too many failed attempts. Try again in %(num)d minutes.",
            minutes,
        ) % {"num": minutes}
        return _login_form(
            page,
            next_url,
            error=message,
            email=email,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    if result.user is None:
        # Committed before answering, so that the failure counts towards the rate limit.
        await page.session.commit()
        return _login_form(
            page,
            next_url,
            error=page.gettext("The email or the password is not correct."),
            email=email,
            status_code=401,
        )
    token = await open_web_session(
        page.session,
        page.settings,
        result.user,
        ip=client.host if client else None,
        user_agent=page.request.headers.get("user-agent"),
    )
    response = page.redirect(safe_next(next_url))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=page.settings.session_ttl_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=page.settings.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout")
async def logout(page: CsrfCheckedPage) -> Response:
    await close_web_session(page.session, page.request.cookies[SESSION_COOKIE])
    response = page.redirect(f"{LOGIN_PATH}?signed_out=1")
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=page.settings.secure_cookies
    )
    return response


@router.get("/home")
async def home(page: SignedInPage) -> Response:
    now = utcnow()
    cards: list[dict[str, Any]] = []
    for workspace in await service.workspaces_of(page.session, page.principal):
        tenant = workspace.tenant
        entry = ENTRIES[workspace.role or Role.ADMIN]
        cards.append(
            {
                "name": tenant.name,
                "slug": tenant.slug,
                "role": workspace.role.value if workspace.role else "platform",
                "role_label": ROLE_LABELS[workspace.role],
                "locale": tenant.default_locale,
                "time_zone": tenant.time_zone,
                "member_since": workspace.member_since,
                "customers": workspace.customers,
                "members": [
                    (ROLE_COUNT_LABELS[role], workspace.members[role])
                    for role in Role
                    if workspace.members[role]
                ],
                "entry": entry,
                "entry_href": f"{entry.path}?tenant={tenant.slug}"
                if _serves(page.request, entry.path)
                else None,
            }
        )
    return page.render(
        "home.html",
        {"cards": cards, "now": now, "is_platform_admin": page.principal.is_platform_admin},
    )
