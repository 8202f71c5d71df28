import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from centralita.api.deps import TenantContext, require
from centralita.errors import FieldError, InvalidInput, NotFound
from centralita.identity.permissions import Permission
from centralita.nlu import service, trainer, training
from centralita.nlu.data import BadTrainingFile, read_examples
from centralita.nlu.models import TrainingRun
from centralita.nlu.schemas import (
    ExamplesStored,
    IntentCreate,
    IntentOut,
    IntentUpdate,
    ModelOut,
    PredictionOut,
    PredictRequest,
    TrainingOut,
    TrainRequest,
)

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/nlu", tags=["nlu"])

NluRead = Annotated[TenantContext, Depends(require(Permission.TENANT_READ))]
NluManage = Annotated[TenantContext, Depends(require(Permission.NLU_MANAGE))]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


async def _out(ctx: TenantContext, route_id: uuid.UUID) -> IntentOut:
    route = await service.get_route(ctx.session, route_id)
    counts = await training.example_counts(ctx.session)
    return IntentOut.model_validate(route).model_copy(
        update={"examples": counts.get(route.intent, 0)}
    )


@router.get("/intents", response_model=list[IntentOut])
async def list_intents(ctx: NluRead) -> list[IntentOut]:
    counts = await training.example_counts(ctx.session)
    return [
        IntentOut.model_validate(r).model_copy(update={"examples": counts.get(r.intent, 0)})
        for r in await service.list_routes(ctx.session)
    ]


@router.post("/intents", status_code=201, response_model=IntentOut)
async def create_intent(data: IntentCreate, ctx: NluManage) -> IntentOut:
    route = await service.create_route(ctx.session, ctx.actor, ctx.tenant_id, **data.model_dump())
    return await _out(ctx, route.id)


@router.get("/intents/{intent_id}", response_model=IntentOut)
async def get_intent(intent_id: uuid.UUID, ctx: NluRead) -> IntentOut:
    return await _out(ctx, intent_id)


@router.patch("/intents/{intent_id}", response_model=IntentOut)
async def update_intent(intent_id: uuid.UUID, data: IntentUpdate, ctx: NluManage) -> IntentOut:
    changes = data.model_dump(exclude_unset=True)
    await service.update_route(ctx.session, ctx.actor, ctx.tenant_id, intent_id, changes)
    return await _out(ctx, intent_id)


@router.delete("/intents/{intent_id}", status_code=204)
async def delete_intent(intent_id: uuid.UUID, ctx: NluManage) -> Response:
    await service.delete_route(ctx.session, ctx.actor, ctx.tenant_id, intent_id)
    return Response(status_code=204)


@router.post("/examples", response_model=ExamplesStored)
async def upload_examples(
    ctx: NluManage,
    file: Annotated[UploadFile, File(description="CSV: text,intent[,locale]")],
    replace: Annotated[bool, Query(description="Replace the stored examples")] = True,
) -> ExamplesStored:
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise InvalidInput.on_field("body.file", f"at most {MAX_UPLOAD_BYTES} bytes")
    try:
        examples = read_examples(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput.on_field("body.file", "the file is not UTF-8 text") from None
    except BadTrainingFile as exc:
        errors = [FieldError(f"body.file.line.{e.line}", e.message) for e in exc.errors]
        raise InvalidInput("The training file has bad rows; nothing was stored", errors) from None
    counts = await training.store_examples(ctx.session, ctx.tenant_id, examples, replace=replace)
    return ExamplesStored(examples=sum(counts.values()), by_intent=counts)


def _training_out(run: TrainingRun) -> TrainingOut:
    finished = run.state == "succeeded"
    percent = 100 if finished else (100 * run.done // run.total if run.total else 0)
    return TrainingOut.model_validate(run).model_copy(update={"percent": percent})


@router.post("/train", status_code=202, response_model=TrainingOut)
async def train(data: TrainRequest, ctx: NluManage, response: Response) -> TrainingOut:
    """Queue training of a new model version from the stored examples; poll the run it returns
    (``Location``) for progress."""
    run = await trainer.queue_training(
        ctx.session, ctx.tenant_id, threshold=data.threshold, use_embeddings=data.embeddings
    )
    response.headers["Location"] = f"{router.prefix}/training/{run.id}".replace(
        "{tenant_slug}", ctx.tenant.slug
    )
    return _training_out(run)


@router.get("/training", response_model=list[TrainingOut])
async def list_training(ctx: NluRead) -> list[TrainingOut]:
    """The latest training runs, newest first."""
    return [_training_out(run) for run in await trainer.list_runs(ctx.session)]


@router.get("/training/{training_id}", response_model=TrainingOut)
async def get_training(training_id: uuid.UUID, ctx: NluRead) -> TrainingOut:
    run = await ctx.session.get(TrainingRun, (ctx.tenant_id, training_id))
    if run is None:
        raise NotFound("No such training run")
    return _training_out(run)


@router.get("/models", response_model=list[ModelOut])
async def list_models(ctx: NluRead) -> list[ModelOut]:
    return [ModelOut.model_validate(v) for v in await training.list_versions(ctx.session)]


@router.post("/predict", response_model=PredictionOut)
async def predict(data: PredictRequest, ctx: NluRead) -> PredictionOut:
    result = await service.recognise(ctx.session, ctx.tenant_id, data.text, data.threshold)
    return PredictionOut(
        intent=result.intent,
        confidence=result.confidence,
        queue=result.queue,
        skills=list(result.skills),
        self_service=result.self_service,
        source="model" if result.source == "model" else "keywords",
        model_version=result.model_version,
    )
