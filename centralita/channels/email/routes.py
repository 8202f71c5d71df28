import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from centralita.api.deps import AppSettings, Paging, TenantContext, require
from centralita.channels.email import replies, service
from centralita.channels.email.models import EmailRecord, EmailStatus
from centralita.channels.email.schemas import AttachmentOut, EmailDetail, EmailOut
from centralita.customers.service import IdentityRules
from centralita.errors import InvalidInput
from centralita.identity.permissions import Permission
from centralita.interactions.schemas import MessageOut
from centralita.schemas import Page
from centralita.tickets.desk import open_desk

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/email", tags=["email"])

TicketsRead = Annotated[TenantContext, Depends(require(Permission.TICKETS_READ))]
TicketsWrite = Annotated[TenantContext, Depends(require(Permission.TICKETS_WRITE))]
TicketsManage = Annotated[TenantContext, Depends(require(Permission.TICKETS_MANAGE))]
InteractionsWrite = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_WRITE))]
# Room for the form's own encoding around the files.
MULTIPART_OVERHEAD = 1_000_000
REPLY_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "maxLength": 20_000},
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "maxItems": replies.MAX_FILES,
                        },
                    },
                }
            }
        },
    }
}

# Served as themselves only when a browser cannot run them; anything else is a download.
SAFE_INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "application/pdf"})


async def _detail(ctx: TenantContext, record: EmailRecord) -> EmailDetail:
    attachments = await service.attachments_of(ctx.session, record.id)
    out = EmailOut.model_validate(record).model_dump()
    return EmailDetail(
        **out,
        visible_text=record.visible_text,
        full_text=record.full_text,
        html=record.html,
        attachments=[AttachmentOut.model_validate(a) for a in attachments],
    )


@router.get("/messages", response_model=Page[EmailOut])
async def list_emails(
    ctx: TicketsRead,
    paging: Paging,
    status: Annotated[EmailStatus | None, Query()] = None,
    ticket_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[EmailOut]:
    """Stored email, newest first; ``status=held`` lists what waits for an agent's decision."""
    found = await service.list_emails(
        ctx.session,
        status=status,
        ticket_id=ticket_id,
        cursor=paging.cursor,
        limit=paging.limit,
    )
    return Page(
        items=[EmailOut.model_validate(r) for r in found.items], next_cursor=found.next_cursor
    )


@router.get("/messages/{email_id}", response_model=EmailDetail)
async def get_email(email_id: uuid.UUID, ctx: TicketsRead) -> EmailDetail:
    return await _detail(ctx, await service.get_email(ctx.session, email_id))


@router.get("/messages/{email_id}/raw", response_class=Response)
async def raw_email(email_id: uuid.UUID, ctx: TicketsManage) -> Response:
    """The message exactly as it arrived or left, for an operator."""
    raw = await service.raw_email(ctx.session, email_id)
    disposition = f'attachment; filename="{email_id}.eml"'
    return Response(raw, media_type="message/rfc822", headers={"Content-Disposition": disposition})


@router.post("/messages/{email_id}/release", response_model=EmailDetail)
async def release(email_id: uuid.UUID, ctx: TicketsWrite, settings: AppSettings) -> EmailDetail:
    """Append held mail to its ticket as the customer's reply."""
    rules = IdentityRules.for_tenant(ctx.tenant, settings.secret_key)
    desk = await open_desk(ctx.session, ctx.tenant, ctx.actor, rules)
    return await _detail(ctx, await service.release(ctx.session, desk, email_id))


@router.post("/messages/{email_id}/dismiss", response_model=EmailDetail)
async def dismiss(email_id: uuid.UUID, ctx: TicketsWrite) -> EmailDetail:
    return await _detail(ctx, await service.dismiss(ctx.session, email_id))


@router.post(
    "/interactions/{interaction_id}/replies",
    status_code=201,
    response_model=MessageOut,
    openapi_extra=REPLY_FORM,
)
async def reply_with_files(
    interaction_id: uuid.UUID, request: Request, ctx: InteractionsWrite
) -> MessageOut:
    """The agent's reply on an email conversation with files attached (``multipart/form-data``:
    ``text`` and up to 10 ``files``, each at most 10 MB and 15 MB together; programs and scripts
    are refused). It is sent by the delivery job, files as MIME attachments."""
    interaction = await replies.email_work(ctx.session, interaction_id)
    length = int(request.headers.get("content-length") or 0)
    if length > replies.MAX_REPLY_BYTES + MULTIPART_OVERHEAD:
        raise replies.TooLarge(
            f"the files together are larger than {replies.MAX_REPLY_BYTES // 1_000_000} MB"
        )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("Send the reply as multipart/form-data")
    form = await request.form(max_files=replies.MAX_FILES + 1, max_fields=5)
    try:
        uploads = []
        for item in form.getlist("files"):
            if not isinstance(item, UploadFile):
                raise InvalidInput.on_field("body.files", "each file must be an uploaded file")
            content = await item.read(replies.MAX_FILE_BYTES + 1)
            uploads.append(replies.Upload(item.filename or "", item.content_type or "", content))
        text = form.get("text")
        message = await replies.reply_with_files(
            ctx.session,
            ctx.actor,
            interaction,
            ctx.tenant.slug,
            text if isinstance(text, str) else "",
            uploads,
        )
    finally:
        await form.close()
    return MessageOut.model_validate(message)


@router.get("/attachments/{attachment_id}", response_class=Response)
async def attachment(attachment_id: uuid.UUID, ctx: TicketsRead) -> Response:
    found = await service.get_attachment(ctx.session, attachment_id)
    safe = found.content_type in SAFE_INLINE_TYPES
    ascii_name = found.filename.encode("ascii", "replace").decode().replace('"', "")
    ascii_name = ascii_name.replace("\\", "").replace("?", "_")
    # RFC 6266: an ASCII fallback, and the real (UTF-8) name for browsers that read it.
    disposition = (
        f'{"inline" if safe else "attachment"}; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(found.filename, safe='')}"
    )
    return Response(
        found.content,
        media_type=found.content_type if safe else "application/octet-stream",
        headers={"Content-Disposition": disposition, "Content-Security-Policy": "sandbox"},
    )
