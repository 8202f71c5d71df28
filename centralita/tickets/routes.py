import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.api.deps import AppSettings, Paging, TenantContext, require
from centralita.api.idempotency import run_once
from centralita.customers.service import IdentityRules
from centralita.db.engine import Database
from centralita.events.models import AuditEntry
from centralita.identity.permissions import Permission
from centralita.schemas import Page
from centralita.tickets import (
    bulk,
    export,
    lifecycle,
    links,
    messages,
    search,
    service,
    templates,
)
from centralita.tickets.desk import Desk, open_desk
from centralita.tickets.models import Ticket, TicketMessage
from centralita.tickets.schemas import (
    BulkResult,
    BulkUpdate,
    ChildrenIn,
    ConversationIn,
    HistoryEntry,
    LinkIn,
    MacroRender,
    MajorUpdateIn,
    MajorUpdateOut,
    MergeIn,
    MessageCreate,
    MessageOut,
    RenderedMacro,
    SlaTargetOut,
    TicketCreate,
    TicketDetail,
    TicketOut,
    TicketRef,
    TicketSearch,
    TicketUpdate,
)
from centralita.tickets.settings import reference
from centralita.tickets.setup_routes import router as setup_router

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}", tags=["tickets"])
router.include_router(setup_router)

TicketsRead = Annotated[TenantContext, Depends(require(Permission.TICKETS_READ))]
TicketsWrite = Annotated[TenantContext, Depends(require(Permission.TICKETS_WRITE))]
TicketsManage = Annotated[TenantContext, Depends(require(Permission.TICKETS_MANAGE))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key and body return the first response unchanged",
    ),
]


async def _desk(ctx: TenantContext, settings: AppSettings) -> Desk:
    rules = IdentityRules.for_tenant(ctx.tenant, settings.secret_key)
    return await open_desk(ctx.session, ctx.tenant, ctx.actor, rules)


async def _database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def ticket_out(ticket: Ticket, prefix: str) -> TicketOut:
    fields = {name: getattr(ticket, name) for name in TicketOut.model_fields if name != "reference"}
    return TicketOut.model_validate({**fields, "reference": reference(prefix, ticket.number)})


def _ref(ticket: Ticket, prefix: str) -> TicketRef:
    return TicketRef(
        id=ticket.id,
        reference=reference(prefix, ticket.number),
        subject=ticket.subject,
        status=ticket.status,
    )


async def _detail(session: AsyncSession, desk: Desk, ticket: Ticket) -> TicketDetail:
    view = await service.ticket_view(session, ticket)
    return TicketDetail(
        **dict(ticket_out(view.ticket, desk.prefix)),
        followers=view.followers,
        sla_targets=[SlaTargetOut.model_validate(target) for target in view.targets],
        related=[_ref(ticket, desk.prefix) for ticket in view.related],
        children=[_ref(ticket, desk.prefix) for ticket in view.children],
    )


def _history_entry(entry: AuditEntry | TicketMessage) -> HistoryEntry:
    if isinstance(entry, TicketMessage):
        return HistoryEntry(
            at=entry.created_at, entry="message", message=MessageOut.model_validate(entry)
        )
    return HistoryEntry(
        at=entry.at,
        entry="change",
        action=entry.action,
        actor_label=entry.actor_label,
        actor_user_id=entry.actor_user_id,
        before=entry.before,
        after=entry.after,
    )


# --- collection --------------------------------------------------------------------------------


@router.post("/tickets", status_code=201, response_model=TicketDetail)
async def create_ticket(
    data: TicketCreate,
    ctx: TicketsWrite,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    desk = await _desk(ctx, settings)

    async def _create() -> tuple[int, Any]:
        ticket = await service.create_ticket(ctx.session, desk, data)
        return 201, (await _detail(ctx.session, desk, ticket)).model_dump(mode="json")

    return await run_once(
        ctx.session, ctx.tenant_id, "tickets.create", idempotency_key, data, _create
    )


@router.get("/tickets", response_model=Page[TicketOut])
async def search_tickets(
    query: Annotated[TicketSearch, Query()], ctx: TicketsRead, settings: AppSettings, paging: Paging
) -> Page[TicketOut]:
    desk = await _desk(ctx, settings)
    filters = await search.effective_filters(ctx.session, ctx.actor.user_id, query)
    page = await search.search_tickets(
        ctx.session, filters, ctx.actor.user_id, paging.cursor, paging.limit
    )
    return Page(
        items=[ticket_out(ticket, desk.prefix) for ticket in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/tickets/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The tickets found, as CSV"}},
)
async def export_tickets(
    query: Annotated[TicketSearch, Query()],
    ctx: TicketsRead,
    settings: AppSettings,
    database: Annotated[Database, Depends(_database)],
) -> StreamingResponse:
    desk = await _desk(ctx, settings)
    user_id, tenant_id = ctx.actor.user_id, ctx.tenant_id
    filters = await search.effective_filters(ctx.session, user_id, query)
    # Refuse bad filters now, while an error can still be an error response.
    search.conditions(filters, user_id)

    async def _stream() -> AsyncIterator[str]:
        chunks = export.csv_chunks(
            lambda: database.tenant_session(tenant_id), desk.prefix, filters, user_id
        )
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(
        _stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tickets.csv"'},
    )


@router.post("/tickets/bulk", response_model=BulkResult)
async def bulk_update(data: BulkUpdate, ctx: TicketsManage, settings: AppSettings) -> BulkResult:
    desk = await _desk(ctx, settings)
    tickets = await bulk.bulk_update(ctx.session, desk, data)
    return BulkResult(
        updated=len(tickets), items=[ticket_out(ticket, desk.prefix) for ticket in tickets]
    )


# --- one ticket --------------------------------------------------------------------------------


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
async def get_ticket(ticket_id: uuid.UUID, ctx: TicketsRead, settings: AppSettings) -> TicketDetail:
    ticket = await lifecycle.get_ticket(ctx.session, ticket_id)
    return await _detail(ctx.session, await _desk(ctx, settings), ticket)


@router.patch("/tickets/{ticket_id}", response_model=TicketDetail)
async def update_ticket(
    ticket_id: uuid.UUID, data: TicketUpdate, ctx: TicketsWrite, settings: AppSettings
) -> TicketDetail:
    desk = await _desk(ctx, settings)
    ticket = await service.update_ticket(ctx.session, desk, ticket_id, data)
    return await _detail(ctx.session, desk, ticket)


@router.get("/tickets/{ticket_id}/messages", response_model=list[MessageOut])
async def list_messages(ticket_id: uuid.UUID, ctx: TicketsRead) -> list[MessageOut]:
    found = await service.list_messages(ctx.session, ticket_id)
    return [MessageOut.model_validate(message) for message in found]


@router.post("/tickets/{ticket_id}/messages", status_code=201, response_model=MessageOut)
async def post_message(
    ticket_id: uuid.UUID,
    data: MessageCreate,
    ctx: TicketsWrite,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A customer's message may reopen the ticket or open a follow-up: see ``ticket_id``."""
    desk = await _desk(ctx, settings)

    async def _post() -> tuple[int, Any]:
        message = await messages.post_message(ctx.session, desk, ticket_id, data)
        return 201, MessageOut.model_validate(message).model_dump(mode="json")

    operation = f"tickets.message:{ticket_id}"
    return await run_once(ctx.session, ctx.tenant_id, operation, idempotency_key, data, _post)


@router.get("/tickets/{ticket_id}/history", response_model=list[HistoryEntry])
async def ticket_history(ticket_id: uuid.UUID, ctx: TicketsRead) -> list[HistoryEntry]:
    return [_history_entry(entry) for entry in await service.history(ctx.session, ticket_id)]


@router.post("/tickets/{ticket_id}/merge", response_model=TicketDetail)
async def merge_tickets(
    ticket_id: uuid.UUID, data: MergeIn, ctx: TicketsWrite, settings: AppSettings
) -> TicketDetail:
    desk = await _desk(ctx, settings)
    survivor = await links.merge_tickets(ctx.session, desk, ticket_id, data.source_id)
    return await _detail(ctx.session, desk, survivor)


@router.post("/tickets/{ticket_id}/links", status_code=201, response_model=list[TicketRef])
async def link_tickets(
    ticket_id: uuid.UUID, data: LinkIn, ctx: TicketsWrite, settings: AppSettings
) -> list[TicketRef]:
    desk = await _desk(ctx, settings)
    related = await links.link_tickets(ctx.session, desk, ticket_id, data.other_id)
    return [_ref(ticket, desk.prefix) for ticket in related]


@router.delete("/tickets/{ticket_id}/links/{other_id}", status_code=204)
async def unlink_tickets(
    ticket_id: uuid.UUID, other_id: uuid.UUID, ctx: TicketsWrite, settings: AppSettings
) -> Response:
    await links.unlink_tickets(ctx.session, await _desk(ctx, settings), ticket_id, other_id)
    return Response(status_code=204)


@router.post("/tickets/{ticket_id}/conversations", response_model=TicketDetail)
async def attach_conversation(
    ticket_id: uuid.UUID, data: ConversationIn, ctx: TicketsWrite, settings: AppSettings
) -> TicketDetail:
    """File a conversation under this ticket (it leaves the ticket it was under before)."""
    desk = await _desk(ctx, settings)
    ticket = await links.attach_conversation(ctx.session, desk, ticket_id, data.interaction_id)
    return await _detail(ctx.session, desk, ticket)


@router.post("/tickets/{ticket_id}/children", response_model=list[TicketRef])
async def adopt_children(
    ticket_id: uuid.UUID, data: ChildrenIn, ctx: TicketsWrite, settings: AppSettings
) -> list[TicketRef]:
    desk = await _desk(ctx, settings)
    children = await links.adopt_children(ctx.session, desk, ticket_id, data.ticket_ids)
    return [_ref(ticket, desk.prefix) for ticket in children]


@router.post("/tickets/{ticket_id}/major-update", status_code=201, response_model=MajorUpdateOut)
async def post_major_update(
    ticket_id: uuid.UUID, data: MajorUpdateIn, ctx: TicketsWrite, settings: AppSettings
) -> MajorUpdateOut:
    desk = await _desk(ctx, settings)
    posted = await links.post_major_update(ctx.session, desk, ticket_id, data)
    return MajorUpdateOut(
        message=MessageOut.model_validate(posted.message),
        updated_ticket_ids=[ticket.id for ticket in posted.updated],
    )


@router.post("/tickets/{ticket_id}/macros/render", response_model=RenderedMacro)
async def render_macro(
    ticket_id: uuid.UUID, data: MacroRender, ctx: TicketsWrite, settings: AppSettings
) -> RenderedMacro:
    return await templates.render_macro(ctx.session, await _desk(ctx, settings), ticket_id, data)
