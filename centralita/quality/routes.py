import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse

from centralita.api.deps import TenantContext, require
from centralita.api.idempotency import run_once
from centralita.db.base import utcnow
from centralita.errors import Forbidden
from centralita.identity.permissions import Permission
from centralita.interactions.schemas import MessageOut
from centralita.interactions.service import get_thread
from centralita.quality import scorecard as scorecards
from centralita.quality import service
from centralita.quality.models import EvaluationStatus, QaEvaluation
from centralita.quality.schemas import (
    Calibration,
    DisputeIn,
    EvaluationDetail,
    EvaluationIn,
    EvaluationOut,
    FormIn,
    FormOut,
    SampleItem,
    Scorecard,
    ScorecardSettingsOut,
    ScorecardSettingsUpdate,
)
from centralita.reporting.service import window

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/qa", tags=["quality"])

Evaluators = Annotated[TenantContext, Depends(require(Permission.QA_EVALUATE))]
Members = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_READ))]
TenantManage = Annotated[TenantContext, Depends(require(Permission.TENANT_MANAGE))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key and body return the first response unchanged",
    ),
]


def _evaluates(ctx: TenantContext) -> bool:
    return ctx.principal.can(ctx.tenant_id, Permission.QA_EVALUATE)


@router.get("/forms", response_model=list[FormOut])
async def list_forms(ctx: Members) -> list[FormOut]:
    return [FormOut.model_validate(f) for f in await service.current_forms(ctx.session)]


@router.post("/forms", status_code=201, response_model=FormOut)
async def create_form(data: FormIn, ctx: Evaluators) -> FormOut:
    return FormOut.model_validate(
        await service.create_form(ctx.session, ctx.tenant_id, ctx.actor, data)
    )


@router.get("/forms/{form_id}", response_model=FormOut)
async def get_form(form_id: uuid.UUID, ctx: Members) -> FormOut:
    return FormOut.model_validate(await service.get_form(ctx.session, form_id))


@router.post("/forms/{form_id}/versions", status_code=201, response_model=FormOut)
async def new_version(form_id: uuid.UUID, data: FormIn, ctx: Evaluators) -> FormOut:
    form = await service.new_version(ctx.session, ctx.tenant_id, ctx.actor, form_id, data)
    return FormOut.model_validate(form)


@router.post("/evaluations", status_code=201, response_model=EvaluationOut)
async def evaluate(
    data: EvaluationIn,
    ctx: Evaluators,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def _create() -> tuple[int, Any]:
        evaluation = await service.evaluate(ctx.session, ctx.tenant_id, ctx.actor, data)
        return 201, EvaluationOut.model_validate(evaluation).model_dump(mode="json")

    return await run_once(ctx.session, ctx.tenant_id, "qa.evaluate", idempotency_key, data, _create)


@router.get("/evaluations", response_model=list[EvaluationOut])
async def list_evaluations(ctx: Members, agent_id: uuid.UUID | None = None) -> list[EvaluationOut]:
    """Evaluators see anyone's evaluations; an agent sees their own."""
    if not _evaluates(ctx):
        agent_id = ctx.actor.user_id
    found = await service.list_evaluations(ctx.session, agent_id)
    return [EvaluationOut.model_validate(e) for e in found]


def _check_reader(ctx: TenantContext, evaluation: QaEvaluation) -> None:
    if not _evaluates(ctx) and evaluation.agent_user_id != ctx.actor.user_id:
        raise Forbidden("This evaluation is not yours")


@router.get("/evaluations/{evaluation_id}", response_model=EvaluationDetail)
async def get_evaluation(evaluation_id: uuid.UUID, ctx: Members) -> EvaluationDetail:
    """The evaluation beside the transcript of the interaction it scored."""
    evaluation = await service.get_evaluation(ctx.session, evaluation_id)
    _check_reader(ctx, evaluation)
    thread = await get_thread(ctx.session, evaluation.interaction_id)
    return EvaluationDetail.model_validate(
        {
            **EvaluationOut.model_validate(evaluation).model_dump(),
            "transcript": [MessageOut.model_validate(m) for m in thread.messages],
        }
    )


@router.post("/evaluations/{evaluation_id}/acknowledge", response_model=EvaluationOut)
async def acknowledge(evaluation_id: uuid.UUID, ctx: Members) -> EvaluationOut:
    evaluation = await service.answer_evaluation(
        ctx.session, ctx.actor, evaluation_id, EvaluationStatus.ACKNOWLEDGED, None
    )
    return EvaluationOut.model_validate(evaluation)


@router.post("/evaluations/{evaluation_id}/dispute", response_model=EvaluationOut)
async def dispute(evaluation_id: uuid.UUID, data: DisputeIn, ctx: Members) -> EvaluationOut:
    evaluation = await service.answer_evaluation(
        ctx.session, ctx.actor, evaluation_id, EvaluationStatus.DISPUTED, data.comment
    )
    return EvaluationOut.model_validate(evaluation)


@router.get("/sample", response_model=list[SampleItem])
async def sample(
    ctx: Evaluators,
    date_from: date | None = None,
    date_to: date | None = None,
    per_agent: Annotated[int, Query(ge=1, le=50)] = 3,
    min_handle_seconds: Annotated[float | None, Query(ge=0)] = None,
    transferred: bool = False,
) -> list[SampleItem]:
    """Interactions to evaluate: a random few per agent, optionally long or transferred ones."""
    zone = ZoneInfo(ctx.tenant.time_zone)
    last = date_to or utcnow().astimezone(zone).date()
    win = window(ctx.tenant, date_from or last - timedelta(days=6), last)
    start = datetime.combine(win.date_from, time.min, zone)
    end = datetime.combine(win.date_to + timedelta(days=1), time.min, zone)
    return await service.sample(
        ctx.session,
        start,
        end,
        per_agent,
        min_handle_seconds=min_handle_seconds,
        transferred_only=transferred,
    )


@router.get("/calibration/{interaction_id}", response_model=Calibration)
async def calibration(interaction_id: uuid.UUID, ctx: Evaluators) -> Calibration:
    """How the evaluators of one interaction scored it, and where their answers differ."""
    return await service.calibration(ctx.session, interaction_id)


@router.get("/scorecards/{user_id}", response_model=Scorecard)
async def scorecard(
    user_id: uuid.UUID,
    ctx: Members,
    period: scorecards.PeriodKind = scorecards.PeriodKind.WEEK,
    count: Annotated[int, Query(ge=1, le=12)] = 4,
    day: date | None = None,
) -> Scorecard:
    """An agent's scorecard, oldest period first; agents see their own."""
    if not _evaluates(ctx) and user_id != ctx.actor.user_id:
        raise Forbidden("You see your own scorecard only")
    today = day or utcnow().astimezone(ZoneInfo(ctx.tenant.time_zone)).date()
    return await scorecards.scorecard(ctx.session, ctx.tenant, user_id, period, today, count)


@router.get("/scorecard-settings", response_model=ScorecardSettingsOut)
async def get_scorecard_settings(ctx: Members) -> ScorecardSettingsOut:
    return await scorecards.scorecard_settings(ctx.session)


@router.patch("/scorecard-settings", response_model=ScorecardSettingsOut)
async def patch_scorecard_settings(
    data: ScorecardSettingsUpdate, ctx: TenantManage
) -> ScorecardSettingsOut:
    return await scorecards.update_scorecard_settings(ctx.session, ctx.tenant_id, ctx.actor, data)
