"""Web chat: the widget's script and style, the visitor's socket, and the agent's typing signal."""

import uuid
from html import escape
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic_core import to_json

from centralita.api.deps import TenantContext, require
from centralita.channels.chat import service
from centralita.channels.chat.socket import (
    ChatContext,
    VisitorLimits,
    converse,
    has_live_conversation,
    pre_chat,
)
from centralita.channels.chat.tokens import verified
from centralita.channels.models import ChannelAddress
from centralita.channels.texts import widget_texts
from centralita.customers.service import IdentityRules
from centralita.errors import Conflict, NotFound
from centralita.events.bus import Event, conversation_topic, emit
from centralita.identity.permissions import Permission
from centralita.interactions.models import Channel
from centralita.interactions.service import get_interaction
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import get_tenant_by_slug

router = APIRouter(tags=["chat"])

STATIC = Path(__file__).parent / "static"
WIDGET_JS = (STATIC / "widget.js").read_text(encoding="utf-8")
WIDGET_CSS = (STATIC / "widget.css").read_bytes()
# Short, so a change to the widget reaches pages soon; the script is tiny.
CACHE = "public, max-age=300"
NOT_FOUND = 4404
FORBIDDEN = 4403
UNAUTHORISED = 4401

InteractionsWrite = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_WRITE))]


async def _widget_of(request: Request, tenant_slug: str) -> tuple[Tenant, ChannelAddress]:
    db = request.app.state.db
    async with db.system_session() as session:
        tenant = await get_tenant_by_slug(session, tenant_slug)
    if tenant is None or not tenant.is_active:
        raise NotFound("No chat here")
    async with db.tenant_session(tenant.id) as session:
        address = await service.widget_address(session)
    if address is None:
        raise NotFound("No chat here")
    return tenant, address


@router.get("/chat/{tenant_slug}/widget.js", include_in_schema=False)
async def widget_script(tenant_slug: str, request: Request) -> Response:
    """The one script a page includes: it builds the widget and talks to this app's origin."""
    tenant, address = await _widget_of(request, tenant_slug)
    config = {
        "slug": tenant.slug,
        "name": address.display_name or tenant.name,
        "locale": tenant.default_locale,
        "texts": widget_texts(),
    }
    body = f"(function (CONFIG) {{\n{WIDGET_JS}\n}})({to_json(config).decode()});\n"
    return Response(
        body, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": CACHE}
    )


TRY_PAGE = """<!doctype html>
<html lang="{locale}"><head><meta charset="utf-8"><title>{name}</title>
<link rel="icon" href="data:,"></head>
<body><h1>{name}</h1><p>{snippet_label}</p><pre><code>{snippet}</code></pre>
<script src="/chat/{slug}/widget.js" defer></script></body></html>"""


@router.get("/chat/{tenant_slug}", include_in_schema=False, response_class=HTMLResponse)
async def try_widget(tenant_slug: str, request: Request) -> HTMLResponse:
    """A page with nothing but the widget (and its snippet), to try it before embedding it."""
    tenant, address = await _widget_of(request, tenant_slug)
    snippet = f'<script src="{request.base_url}chat/{tenant.slug}/widget.js" defer></script>'
    page = TRY_PAGE.format(
        locale=tenant.default_locale,
        name=escape(address.display_name or tenant.name),
        snippet_label=escape(widget_texts()[tenant.default_locale]["snippet"]),
        snippet=escape(snippet),
        slug=tenant.slug,
    )
    return HTMLResponse(page)


@router.get("/chat/{tenant_slug}/widget.css", include_in_schema=False)
async def widget_style(tenant_slug: str) -> Response:
    return Response(WIDGET_CSS, media_type="text/css", headers={"Cache-Control": CACHE})


@router.post("/api/v1/tenants/{tenant_slug}/interactions/{interaction_id}/typing", status_code=204)
async def agent_typing(interaction_id: uuid.UUID, ctx: InteractionsWrite) -> Response:
    """The agent is typing: the visitor's widget shows it for a few seconds."""
    interaction = await get_interaction(ctx.session, interaction_id)
    if interaction.channel != Channel.CHAT:
        raise Conflict("Only a chat shows typing", "not-a-chat")
    event = Event(
        "agent.typed",
        ctx.tenant.id,
        {"interaction_id": interaction.id},
        (conversation_topic(interaction.id),),
    )
    emit(ctx.session, event)
    return Response(status_code=204)


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, reason)


@router.websocket("/ws/chat/{tenant_slug}")
async def chat_socket(
    websocket: WebSocket,
    tenant_slug: str,
    token: Annotated[str | None, Query(max_length=1000)] = None,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> None:
    """A visitor's chat: pre-chat form without a token, the conversation with one."""
    state = websocket.app.state
    db, settings = state.db, state.settings
    async with db.system_session() as session:
        tenant = await get_tenant_by_slug(session, tenant_slug)
    if tenant is None or not tenant.is_active:
        await _refuse(websocket, NOT_FOUND, "No chat here")
        return
    async with db.tenant_session(tenant.id) as session:
        address = await service.widget_address(session)
    if address is None:
        await _refuse(websocket, NOT_FOUND, "No chat here")
        return
    allowed = address.settings.get("allowed_origins") or []
    if allowed and websocket.headers.get("origin") not in allowed:
        await _refuse(websocket, FORBIDDEN, "Not allowed on this site")
        return
    visitor = verified(token, settings.secret_key, tenant.id) if token else None
    if token and visitor is None:
        await _refuse(websocket, UNAUTHORISED, "Start a new chat")
        return
    if not hasattr(state, "chat_limits"):
        state.chat_limits = VisitorLimits(settings.chat_messages_per_minute)
    ctx = ChatContext(
        websocket,
        db,
        state.hub,
        state.bus,
        settings,
        tenant,
        address,
        IdentityRules.for_tenant(tenant, settings.secret_key),
        state.chat_limits,
    )
    await websocket.accept()
    try:
        if visitor is None or not await has_live_conversation(ctx, visitor):
            # A returning visitor whose last chat is over starts anew, as the same visitor.
            visitor = await pre_chat(ctx, visitor)
        await converse(ctx, visitor, last_event_id)
    except WebSocketDisconnect:
        return
