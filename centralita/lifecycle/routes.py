import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse, JSONResponse

from centralita.api.deps import TenantContext, require
from centralita.db.base import utcnow
from centralita.identity.permissions import Permission
from centralita.lifecycle import erasure, export, service
from centralita.lifecycle.schemas import (
    ErasureIn,
    ErasureOut,
    ExportOut,
    RetentionOut,
    RetentionUpdate,
)

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}", tags=["data lifecycle"])

# Retention, exports and erasure reach every record of a tenant: its administrators only.
DataManage = Annotated[TenantContext, Depends(require(Permission.TENANT_MANAGE))]


def _export_dir(request: Request) -> Path:
    directory: Path = request.app.state.settings.export_dir
    return directory


@router.get("/retention", response_model=RetentionOut)
async def get_retention(ctx: DataManage) -> RetentionOut:
    policy = await service.retention_policy(ctx.session)
    return RetentionOut.model_validate(policy)


@router.put(
    "/retention",
    response_model=RetentionOut,
    description="Set how many days conversations, recording links and raw emails with their "
    "attachments are kept (null: forever). A daily job purges what is older; reporting facts "
    "and aggregates are kept.",
)
async def set_retention(data: RetentionUpdate, ctx: DataManage) -> RetentionOut:
    policy = await service.set_retention(ctx.session, ctx.tenant_id, ctx.actor, data, utcnow())
    return RetentionOut.model_validate(policy)


@router.post(
    "/exports",
    status_code=202,
    response_model=ExportOut,
    description="Export all of the tenant's data (JSON lines per table and the original emails "
    "as .eml) into one zip, written in the background; poll its status, then download it.",
)
async def request_export(ctx: DataManage) -> ExportOut:
    job = await export.request_export(ctx.session, ctx.tenant_id, ctx.actor)
    return ExportOut.model_validate(job)


@router.get("/exports", response_model=list[ExportOut])
async def list_exports(ctx: DataManage) -> list[ExportOut]:
    return [ExportOut.model_validate(e) for e in await export.list_exports(ctx.session)]


@router.get("/exports/{export_id}", response_model=ExportOut)
async def get_export(export_id: uuid.UUID, ctx: DataManage) -> ExportOut:
    return ExportOut.model_validate(await export.get_export(ctx.session, export_id))


@router.get(
    "/exports/{export_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def download_export(export_id: uuid.UUID, ctx: DataManage, request: Request) -> FileResponse:
    found = await export.get_export(ctx.session, export_id)
    path = export.archive_path(_export_dir(request), found)
    return FileResponse(path, media_type="application/zip", filename=path.name)


@router.post(
    "/customers/{customer_id}/erasure",
    response_model=ErasureOut,
    status_code=201,
    responses={200: {"model": ErasureOut, "description": "Erased before: nothing changed"}},
    description="Erase the customer's personal data everywhere (right to be forgotten). Cannot "
    "be undone; reports keep their numbers. Asking again answers 200 with the first erasure.",
)
async def erase_customer(
    customer_id: uuid.UUID,
    ctx: DataManage,
    data: Annotated[ErasureIn | None, Body()] = None,
) -> JSONResponse:
    record, erased_now = await erasure.erase_customer(
        ctx.session, ctx.tenant_id, ctx.actor, customer_id, data or ErasureIn()
    )
    body = ErasureOut.model_validate(record).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if erased_now else 200)
