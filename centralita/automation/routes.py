import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from centralita.api.deps import Paging, TenantContext, require
from centralita.automation import service
from centralita.automation.models import Rule
from centralita.automation.schemas import (
    ApiEventIn,
    DryRunMatch,
    DryRunOut,
    RuleDefinition,
    RuleOut,
    RuleRunOut,
    RuleUpdate,
)
from centralita.errors import NotFound
from centralita.events.outbox import RECORDED_TYPES
from centralita.identity.permissions import Permission
from centralita.schemas import Page
from centralita.web.admin import open_section, render_section
from centralita.web.pages import SignedInPage, page_router

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}", tags=["automation"])
pages = page_router()

RulesManage = Annotated[TenantContext, Depends(require(Permission.RULES_MANAGE))]
EventsWrite = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_WRITE))]


@router.get(
    "/rules",
    response_model=list[RuleOut],
    description="By trigger, in evaluation order. Includes the tenant's default rules.",
)
async def list_rules(ctx: RulesManage) -> list[RuleOut]:
    return [RuleOut.model_validate(r) for r in await service.list_rules(ctx.session, ctx.tenant_id)]


@router.post("/rules", status_code=201, response_model=RuleOut)
async def create_rule(data: RuleDefinition, ctx: RulesManage) -> RuleOut:
    rule = await service.create_rule(ctx.session, ctx.actor, ctx.tenant_id, data)
    return RuleOut.model_validate(rule)


@router.post(
    "/rules/dry-run",
    response_model=DryRunOut,
    description="What a rule would have done on the last day's events of its trigger. "
    "Nothing is changed.",
)
async def dry_run_definition(data: RuleDefinition, ctx: RulesManage) -> DryRunOut:
    return await _dry_run(ctx, data)


@router.get("/rules/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: uuid.UUID, ctx: RulesManage) -> RuleOut:
    return RuleOut.model_validate(await service.get_rule(ctx.session, rule_id))


@router.patch("/rules/{rule_id}", response_model=RuleOut)
async def update_rule(rule_id: uuid.UUID, data: RuleUpdate, ctx: RulesManage) -> RuleOut:
    return RuleOut.model_validate(await service.update_rule(ctx.session, ctx.actor, rule_id, data))


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: uuid.UUID, ctx: RulesManage) -> Response:
    await service.delete_rule(ctx.session, ctx.actor, rule_id)
    return Response(status_code=204)


@router.post("/rules/{rule_id}/dry-run", response_model=DryRunOut)
async def dry_run_rule(rule_id: uuid.UUID, ctx: RulesManage) -> DryRunOut:
    """The saved rule's dry-run over the last day's events (active or not)."""
    return await _dry_run(ctx, _definition(await service.get_rule(ctx.session, rule_id)))


@router.get("/rules/{rule_id}/runs", response_model=Page[RuleRunOut])
async def list_runs(rule_id: uuid.UUID, ctx: RulesManage, paging: Paging) -> Page[RuleRunOut]:
    """The rule's execution log, newest first: each event it fired on and what it did."""
    page = await service.runs_page(ctx.session, rule_id, paging.cursor, paging.limit)
    return Page(
        items=[RuleRunOut.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/api-events",
    status_code=202,
    response_model=dict[str, str],
    description="Report an event from another system (a device alert, say): rules with the "
    "trigger api_event.received see it as event.name, event.customer_id and its data fields.",
)
async def receive_api_event(data: ApiEventIn, ctx: EventsWrite) -> dict[str, str]:
    event = service.receive_api_event(ctx.session, ctx.tenant_id, data)
    return {"event_id": event.id}


def _definition(rule: Rule) -> RuleDefinition:
    return RuleDefinition.model_validate(
        {
            "name": rule.name,
            "trigger": rule.trigger,
            "conditions": rule.conditions,
            "actions": rule.actions,
            "position": rule.position,
            "active": rule.active,
            "stop_processing": rule.stop_processing,
            "every_minutes": rule.every_minutes,
        }
    )


async def _dry_run(ctx: TenantContext, definition: RuleDefinition) -> DryRunOut:
    examined, matches = await service.dry_run(ctx.session, definition)
    return DryRunOut(
        events_examined=examined,
        matches=[
            DryRunMatch(event_id=r.id, event_type=r.type, at=r.at, actions=actions)
            for r, actions in matches
        ],
    )


# --- the administration section --------------------------------------------------------------

RUNS_SHOWN = 30
# What a new rule's editor starts from: a valid rule the administrator adapts.
NEW_RULE_EXAMPLE = {
    "name": "Unhappy answer: tag the customer",
    "trigger": "survey.answered",
    "conditions": [{"field": "event.low", "op": "eq", "value": True}],
    "actions": [{"type": "tag_customer", "tag": "unhappy"}],
    "position": 100,
}


def _editable(rule: Rule) -> str:
    """The rule as the JSON its PATCH takes (its trigger cannot change)."""
    fields: dict[str, Any] = {
        "name": rule.name,
        "conditions": rule.conditions,
        "actions": rule.actions,
        "position": rule.position,
        "active": rule.active,
        "stop_processing": rule.stop_processing,
    }
    if rule.every_minutes is not None:
        fields["every_minutes"] = rule.every_minutes
    return json.dumps(fields, indent=2, ensure_ascii=False)


@pages.get("/admin/rules")
async def rules_section(
    page: SignedInPage,
    tenant: Annotated[str, Query(max_length=100)],
    rule: uuid.UUID | None = None,
) -> Response:
    """The tenant's rules in evaluation order; one of them opened to edit, try and audit."""
    found, tenants = await open_section(page, tenant)
    rules = await service.list_rules(page.session, found.id)
    chosen = next((r for r in rules if r.id == rule), None)
    if rule is not None and chosen is None:
        raise NotFound("Rule not found")
    runs = (
        (await service.runs_page(page.session, chosen.id, None, RUNS_SHOWN)).items if chosen else []
    )
    return await render_section(
        page,
        found,
        tenants,
        "rules",
        "admin_rules.html",
        {
            "rules": rules,
            "chosen": chosen,
            "chosen_json": _editable(chosen) if chosen else "",
            "runs": runs,
            "triggers": sorted(RECORDED_TYPES),
            "new_rule_json": json.dumps(NEW_RULE_EXAMPLE, indent=2, ensure_ascii=False),
        },
    )
