"""Request dependencies: the unit of work, the authenticated principal, the tenant context."""

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Query, Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.api.lookups import Lookups
from centralita.config import Settings
from centralita.db.engine import Database
from centralita.db.paging import DEFAULT_LIMIT, MAX_LIMIT
from centralita.db.scoping import use_system_scope, use_tenant_scope
from centralita.errors import Forbidden, NotFound, Unauthorized
from centralita.events.service import Actor
from centralita.identity.permissions import Permission
from centralita.identity.service import (
    Passwords,
    Principal,
    principal_from_api_token,
    principal_from_cookie,
)
from centralita.tenancy.models import Tenant

SESSION_COOKIE = "centralita_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Dependencies without I/O are coroutines: FastAPI runs plain functions in a thread pool.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_lookups(request: Request) -> Lookups:
    lookups: Lookups = request.app.state.lookups
    return lookups


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit when the handler returns, roll back if it raises."""
    db: Database = request.app.state.db
    async with db.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


# scope="function": commit before the response is sent, so a client never sees a 201 for a
# transaction that then fails.
DbSession = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
AppPasswords = Annotated[Passwords, Depends(get_passwords)]
AppLookups = Annotated[Lookups, Depends(get_lookups)]


async def _principal_or_none(
    request: Request, session: AsyncSession, lookups: Lookups
) -> Principal | None:
    await use_system_scope(session)
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        secret = credentials.strip()
        principal = lookups.principal(secret)
        if principal is None:
            principal = await principal_from_api_token(session, secret)
            if principal is None:
                raise Unauthorized("Invalid or revoked API token")
            lookups.remember_principal(secret, principal)
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    principal = await principal_from_cookie(session, cookie)
    if principal is None:
        return None
    if (
        request.method not in SAFE_METHODS
        and request.headers.get(CSRF_HEADER) != principal.csrf_token
    ):
        raise Forbidden("Missing or wrong CSRF token")
    return principal


async def websocket_principal(websocket: WebSocket) -> Principal | None:
    """Who opens a WebSocket: a bearer token, or the session cookie from a page of this site.

    Browsers send cookies on cross-site WebSocket handshakes too, so a cookie counts only when the
    Origin is this host (or absent, as from a non-browser client that holds the cookie itself).
    """
    db: Database = websocket.app.state.db
    async with db.system_session() as session:
        authorization = websocket.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return await principal_from_api_token(session, credentials.strip())
        cookie = websocket.cookies.get(SESSION_COOKIE)
        origin = websocket.headers.get("origin")
        if not cookie or (origin and urlsplit(origin).netloc != websocket.headers.get("host")):
            return None
        return await principal_from_cookie(session, cookie)


async def current_principal(request: Request, session: DbSession, lookups: AppLookups) -> Principal:
    principal = await _principal_or_none(request, session, lookups)
    if principal is None:
        raise Unauthorized()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


@dataclass
class TenantContext:
    """A request inside one tenant: the session is scoped to it."""

    tenant: Tenant
    principal: Principal
    session: AsyncSession

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.tenant.id

    @property
    def actor(self) -> Actor:
        return self.principal.actor


async def tenant_context(
    tenant_slug: str, principal: CurrentPrincipal, session: DbSession, lookups: AppLookups
) -> TenantContext:
    """Resolve the tenant in the path; another tenant's slug answers 404, as if it did not exist.

    With the principal and the tenant remembered (``lookups``), no statement has run yet, so the
    transaction begins directly in the tenant's scope: one set of row-level-security settings."""
    tenant = await lookups.tenant_by_slug(session, tenant_slug)
    if tenant is None or not principal.sees_tenant(tenant.id):
        raise NotFound("Tenant not found")
    await use_tenant_scope(session, tenant.id)
    return TenantContext(tenant, principal, session)


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, TenantContext]]:
    async def _check(ctx: Annotated[TenantContext, Depends(tenant_context)]) -> TenantContext:
        if not ctx.principal.can(ctx.tenant_id, permission):
            raise Forbidden(f"Your role does not allow {permission.value}")
        return ctx

    return _check


@dataclass
class PageParams:
    cursor: str | None
    limit: int


async def page_params(
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor, limit)


Paging = Annotated[PageParams, Depends(page_params)]
