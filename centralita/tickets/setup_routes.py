"""What a tenant sets up for its tickets: settings, teams, categories, custom fields, templates,
and saved views. Included by ``routes``."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from centralita.api.deps import TenantContext, require
from centralita.identity.permissions import Permission
from centralita.tickets import catalog, fields, settings, templates, views
from centralita.tickets.models import SavedView, TicketSettings
from centralita.tickets.schemas import ViewCreate, ViewOut, ViewUpdate
from centralita.tickets.search import BUILTIN_NAMES
from centralita.tickets.setup_schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    CustomFieldCreate,
    CustomFieldOut,
    CustomFieldUpdate,
    SettingsOut,
    SettingsUpdate,
    TeamCreate,
    TeamMembers,
    TeamOut,
    TeamUpdate,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)

router = APIRouter(tags=["ticket setup"])

TicketsRead = Annotated[TenantContext, Depends(require(Permission.TICKETS_READ))]
TicketsManage = Annotated[TenantContext, Depends(require(Permission.TICKETS_MANAGE))]


def _settings_out(row: TicketSettings) -> SettingsOut:
    return SettingsOut(
        prefix=row.prefix,
        next_number=row.next_number,
        priority_matrix=settings.effective_matrix(row),
        reopen_days=row.reopen_days,
    )


@router.get("/ticket-settings", response_model=SettingsOut)
async def get_settings(ctx: TicketsRead) -> SettingsOut:
    return _settings_out(await settings.ticket_settings(ctx.session, ctx.tenant))


@router.patch("/ticket-settings", response_model=SettingsOut)
async def update_settings(data: SettingsUpdate, ctx: TicketsManage) -> SettingsOut:
    return _settings_out(await settings.update_settings(ctx.session, ctx.actor, ctx.tenant, data))


# --- teams -------------------------------------------------------------------------------------


def _team_out(view: catalog.TeamView) -> TeamOut:
    team = view.team
    return TeamOut(
        id=team.id,
        name=team.name,
        description=team.description,
        member_ids=view.member_ids,
        created_at=team.created_at,
    )


@router.get("/teams", response_model=list[TeamOut])
async def list_teams(ctx: TicketsRead) -> list[TeamOut]:
    return [_team_out(view) for view in await catalog.list_teams(ctx.session)]


@router.post("/teams", status_code=201, response_model=TeamOut)
async def create_team(data: TeamCreate, ctx: TicketsManage) -> TeamOut:
    return _team_out(await catalog.create_team(ctx.session, ctx.actor, ctx.tenant_id, data))


@router.get("/teams/{team_id}", response_model=TeamOut)
async def get_team(team_id: uuid.UUID, ctx: TicketsRead) -> TeamOut:
    return _team_out(await catalog.get_team(ctx.session, team_id))


@router.patch("/teams/{team_id}", response_model=TeamOut)
async def update_team(team_id: uuid.UUID, data: TeamUpdate, ctx: TicketsManage) -> TeamOut:
    return _team_out(await catalog.update_team(ctx.session, ctx.actor, team_id, data))


@router.put("/teams/{team_id}/members", response_model=TeamOut)
async def set_team_members(team_id: uuid.UUID, data: TeamMembers, ctx: TicketsManage) -> TeamOut:
    view = await catalog.set_team_members(ctx.session, ctx.actor, team_id, data.user_ids)
    return _team_out(view)


@router.delete("/teams/{team_id}", status_code=204)
async def delete_team(team_id: uuid.UUID, ctx: TicketsManage) -> Response:
    await catalog.delete_team(ctx.session, ctx.actor, team_id)
    return Response(status_code=204)


# --- categories --------------------------------------------------------------------------------


def _category_out(view: catalog.CategoryView) -> CategoryOut:
    category = view.category
    return CategoryOut(
        id=category.id, name=category.name, parent_id=category.parent_id, path=view.path
    )


@router.get("/ticket-categories", response_model=list[CategoryOut])
async def list_categories(ctx: TicketsRead) -> list[CategoryOut]:
    return [_category_out(view) for view in await catalog.list_categories(ctx.session)]


@router.post("/ticket-categories", status_code=201, response_model=CategoryOut)
async def create_category(data: CategoryCreate, ctx: TicketsManage) -> CategoryOut:
    view = await catalog.create_category(ctx.session, ctx.actor, ctx.tenant_id, data)
    return _category_out(view)


@router.get("/ticket-categories/{category_id}", response_model=CategoryOut)
async def get_category(category_id: uuid.UUID, ctx: TicketsRead) -> CategoryOut:
    return _category_out(await catalog.get_category(ctx.session, category_id))


@router.patch("/ticket-categories/{category_id}", response_model=CategoryOut)
async def update_category(
    category_id: uuid.UUID, data: CategoryUpdate, ctx: TicketsManage
) -> CategoryOut:
    view = await catalog.update_category(ctx.session, ctx.actor, category_id, data)
    return _category_out(view)


@router.delete("/ticket-categories/{category_id}", status_code=204)
async def delete_category(category_id: uuid.UUID, ctx: TicketsManage) -> Response:
    await catalog.delete_category(ctx.session, ctx.actor, category_id)
    return Response(status_code=204)


# --- custom fields -----------------------------------------------------------------------------


@router.get("/ticket-fields", response_model=list[CustomFieldOut])
async def list_fields(ctx: TicketsRead) -> list[CustomFieldOut]:
    return [CustomFieldOut.model_validate(f) for f in await fields.list_fields(ctx.session)]


@router.post("/ticket-fields", status_code=201, response_model=CustomFieldOut)
async def create_field(data: CustomFieldCreate, ctx: TicketsManage) -> CustomFieldOut:
    definition = await fields.create_field(ctx.session, ctx.actor, ctx.tenant_id, data)
    return CustomFieldOut.model_validate(definition)


@router.get("/ticket-fields/{field_id}", response_model=CustomFieldOut)
async def get_field(field_id: uuid.UUID, ctx: TicketsRead) -> CustomFieldOut:
    return CustomFieldOut.model_validate(await fields.get_field(ctx.session, field_id))


@router.patch("/ticket-fields/{field_id}", response_model=CustomFieldOut)
async def update_field(
    field_id: uuid.UUID, data: CustomFieldUpdate, ctx: TicketsManage
) -> CustomFieldOut:
    definition = await fields.update_field(ctx.session, ctx.actor, field_id, data)
    return CustomFieldOut.model_validate(definition)


@router.delete("/ticket-fields/{field_id}", status_code=204)
async def delete_field(field_id: uuid.UUID, ctx: TicketsManage) -> Response:
    await fields.delete_field(ctx.session, ctx.actor, field_id)
    return Response(status_code=204)


# --- templates ---------------------------------------------------------------------------------


@router.get("/ticket-templates", response_model=list[TemplateOut])
async def list_templates(ctx: TicketsRead) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in await templates.list_templates(ctx.session)]


@router.post("/ticket-templates", status_code=201, response_model=TemplateOut)
async def create_template(data: TemplateCreate, ctx: TicketsManage) -> TemplateOut:
    template = await templates.create_template(ctx.session, ctx.actor, ctx.tenant_id, data)
    return TemplateOut.model_validate(template)


@router.get("/ticket-templates/{template_id}", response_model=TemplateOut)
async def get_template(template_id: uuid.UUID, ctx: TicketsRead) -> TemplateOut:
    return TemplateOut.model_validate(await templates.get_template(ctx.session, template_id))


@router.patch("/ticket-templates/{template_id}", response_model=TemplateOut)
async def update_template(
    template_id: uuid.UUID, data: TemplateUpdate, ctx: TicketsManage
) -> TemplateOut:
    template = await templates.update_template(ctx.session, ctx.actor, template_id, data)
    return TemplateOut.model_validate(template)


@router.delete("/ticket-templates/{template_id}", status_code=204)
async def delete_template(template_id: uuid.UUID, ctx: TicketsManage) -> Response:
    await templates.delete_template(ctx.session, ctx.actor, template_id)
    return Response(status_code=204)


# --- saved views -------------------------------------------------------------------------------


def _view_out(view: SavedView) -> ViewOut:
    return ViewOut(
        id=str(view.id),
        name=view.name,
        builtin=False,
        shared=view.owner_user_id is None,
        filters=view.filters,
        position=view.position,
    )


def _may_share(ctx: TenantContext) -> bool:
    return ctx.principal.can(ctx.tenant_id, Permission.TICKETS_MANAGE)


@router.get("/ticket-views", response_model=list[ViewOut])
async def list_views(ctx: TicketsRead) -> list[ViewOut]:
    """The built-in views first (their filters are worked out when used), then saved ones."""
    builtin = [
        ViewOut(id=key, name=name, builtin=True, shared=True, filters={}, position=0)
        for key, name in BUILTIN_NAMES.items()
    ]
    saved = await views.list_views(ctx.session, ctx.actor.user_id)
    return builtin + [_view_out(view) for view in saved]


@router.post("/ticket-views", status_code=201, response_model=ViewOut)
async def create_view(data: ViewCreate, ctx: TicketsRead) -> ViewOut:
    view = await views.create_view(ctx.session, ctx.actor, ctx.tenant_id, data, _may_share(ctx))
    return _view_out(view)


@router.get("/ticket-views/{view_id}", response_model=ViewOut)
async def get_view(view_id: uuid.UUID, ctx: TicketsRead) -> ViewOut:
    return _view_out(await views.get_view(ctx.session, ctx.actor.user_id, view_id))


@router.patch("/ticket-views/{view_id}", response_model=ViewOut)
async def update_view(view_id: uuid.UUID, data: ViewUpdate, ctx: TicketsRead) -> ViewOut:
    view = await views.update_view(ctx.session, ctx.actor, view_id, data, _may_share(ctx))
    return _view_out(view)


@router.delete("/ticket-views/{view_id}", status_code=204)
async def delete_view(view_id: uuid.UUID, ctx: TicketsRead) -> Response:
    await views.delete_view(ctx.session, ctx.actor, view_id, _may_share(ctx))
    return Response(status_code=204)
