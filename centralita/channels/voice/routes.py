"""Voice webhooks (answered with TwiML), the agent's click-to-call and live-call controls."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.api.deps import AppSettings, TenantContext, require
from centralita.channels import service as addresses
from centralita.channels.models import AddressChannel
from centralita.channels.reports import ReportTarget, apply_report
from centralita.channels.texts import spoken
from centralita.channels.voice import controls, ivr
from centralita.channels.voice.provider import Provider, ProviderError
from centralita.channels.voice.twiml import TwiML
from centralita.channels.voice.webhook import verified_webhook
from centralita.config import Settings
from centralita.customers.service import IdentityRules, list_identities
from centralita.errors import Conflict, InvalidInput
from centralita.identity.permissions import Permission
from centralita.interactions import service as interactions
from centralita.interactions.models import Channel, Direction, InteractionState
from centralita.interactions.schemas import IdentityIn, InteractionCreate, InteractionOut
from centralita.outbound.delivery import Report
from centralita.routing.schemas import TransferIn
from centralita.routing.service import serves
from centralita.schemas import Strict

router = APIRouter(prefix=ivr.BASE, tags=["telephony"], include_in_schema=False)
calls_router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}/calls", tags=["telephony"])

InteractionsWrite = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_WRITE))]
Step = Callable[[AsyncSession, ivr.Call], Awaitable[TwiML]]


async def _answer(request: Request, step: Step) -> Response:
    hook = await verified_webhook(request, AddressChannel.VOICE)
    settings: Settings = request.app.state.settings
    rules = IdentityRules.for_tenant(hook.tenant, settings.secret_key)
    async with request.app.state.db.tenant_session(hook.tenant.id) as session:
        call = await ivr.identify(session, hook, rules)
        twiml = await step(session, call)
        # Stored before the provider hears the answer: nothing acknowledged is lost.
        await session.commit()
    return twiml.response()


@router.post("/incoming")
async def incoming(request: Request) -> Response:
    return await _answer(request, ivr.incoming)


@router.post("/steer")
async def steer(request: Request) -> Response:
    return await _answer(request, ivr.steered)


@router.post("/ticket")
async def ticket(request: Request) -> Response:
    return await _answer(request, ivr.ticket_status)


@router.post("/agent")
async def agent(
    request: Request, ticket: Annotated[int | None, Query(ge=1, lt=10**9)] = None
) -> Response:
    async def step(session: AsyncSession, call: ivr.Call) -> TwiML:
        return await ivr.to_agent(session, call, ticket)

    return await _answer(request, step)


@router.post("/wait")
async def wait(request: Request) -> Response:
    return await _answer(request, ivr.waiting)


@router.post("/bridge")
async def bridge(request: Request) -> Response:
    return await _answer(request, ivr.bridge)


@router.post("/callback")
async def callback(request: Request) -> Response:
    return await _answer(request, ivr.callback)


@router.post("/voicemail")
async def voicemail(request: Request) -> Response:
    return await _answer(request, ivr.voicemail)


@router.post("/hold")
async def hold_loop(request: Request) -> Response:
    return await _answer(request, ivr.on_hold)


@router.post("/requeue")
async def requeue(request: Request) -> Response:
    return await _answer(request, ivr.requeued)


@router.post("/status")
async def status(request: Request) -> Response:
    async def step(session: AsyncSession, call: ivr.Call) -> TwiML:
        await ivr.call_status(session, call)
        return TwiML()

    return await _answer(request, step)


@router.post("/message-status")
async def message_status(
    request: Request,
    contact: Annotated[uuid.UUID | None, Query()] = None,
    message: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    """How an automated call (a spoken message) ended: answered, no answer, busy or failed."""
    hook = await verified_webhook(request, AddressChannel.VOICE)
    report = Report(sid=hook.get("CallSid"), status=hook.get("CallStatus").lower())
    async with request.app.state.db.tenant_session(hook.tenant.id) as session:
        await apply_report(session, ReportTarget(contact=contact, message=message), report)
        await session.commit()
    return Response(status_code=204)


@router.post("/connect")
async def connect(request: Request, agent: Annotated[uuid.UUID, Query()]) -> Response:
    """An outbound call was answered: put the customer through to the agent's softphone."""

    async def step(session: AsyncSession, call: ivr.Call) -> TwiML:
        twiml = TwiML().say(spoken(call.locale, "connecting"), call.locale)
        return twiml.dial_client(ivr.agent_client(agent))

    return await _answer(request, step)


class CallCreate(Strict):
    to: str = Field(min_length=3, max_length=40, description="The customer's number")
    address_id: uuid.UUID | None = Field(
        default=None, description="The tenant's number to call from; left out, its first one"
    )


@calls_router.post("", status_code=201, response_model=InteractionOut)
async def click_to_call(
    data: CallCreate, ctx: InteractionsWrite, request: Request, settings: AppSettings
) -> InteractionOut:
    """The agent calls a customer: the provider rings them, then connects the agent."""
    if ctx.actor.user_id is None:
        raise Conflict("Only a person can place a call", "not-a-person")
    numbers = [
        a for a in await addresses.list_addresses(ctx.session) if a.channel == AddressChannel.VOICE
    ]
    chosen = next((a for a in numbers if data.address_id in (None, a.id)), None)
    if chosen is None:
        raise InvalidInput.on_field("body.address_id", "No such phone number of this company")
    rules = IdentityRules.for_tenant(ctx.tenant, settings.secret_key)
    thread = await interactions.create_interaction(
        ctx.session,
        ctx.tenant,
        ctx.actor,
        InteractionCreate(
            channel=Channel.VOICE,
            direction=Direction.OUTBOUND,
            state=InteractionState.ACTIVE,
            identity=IdentityIn(kind="phone", value=data.to),
            queue=chosen.queue,
        ),
        rules,
    )
    interaction = thread.interaction
    customer_number = await _customer_number(ctx.session, interaction.customer_id)
    base = (settings.telephony_public_base_url or str(request.base_url)).rstrip("/")
    try:
        sid = await Provider(settings.telephony_api_base_url).call(
            chosen,
            customer_number,
            url=f"{base}{ivr.BASE}/connect?agent={ctx.actor.user_id}",
            status_callback=f"{base}{ivr.BASE}/status",
        )
    except ProviderError as exc:
        raise Conflict(f"The call could not be placed: {exc}", "provider-failed") from None
    interaction.external_ref = sid
    await ctx.session.flush()
    return InteractionOut.model_validate(interaction)


async def _customer_number(session: AsyncSession, customer_id: uuid.UUID) -> str:
    identities = await list_identities(session, customer_id)
    return next(i.value for i in identities if i.kind == "phone")


def _controls(request: Request, settings: Settings) -> controls.CallControls:
    base = settings.telephony_public_base_url or str(request.base_url)
    return controls.CallControls(Provider(settings.telephony_api_base_url), base)


@calls_router.post("/{interaction_id}/hold", response_model=InteractionOut)
async def hold_call(
    interaction_id: uuid.UUID, ctx: InteractionsWrite, request: Request, settings: AppSettings
) -> InteractionOut:
    """The caller hears hold music until the agent resumes the call."""
    found = await controls.hold(
        ctx.session, _controls(request, settings), ctx.actor, interaction_id
    )
    return InteractionOut.model_validate(found)


@calls_router.post("/{interaction_id}/resume", response_model=InteractionOut)
async def resume_call(
    interaction_id: uuid.UUID, ctx: InteractionsWrite, request: Request, settings: AppSettings
) -> InteractionOut:
    found = await controls.resume(
        ctx.session, _controls(request, settings), ctx.actor, interaction_id
    )
    return InteractionOut.model_validate(found)


@calls_router.post("/{interaction_id}/transfer", response_model=InteractionOut)
async def transfer_call(
    interaction_id: uuid.UUID,
    data: TransferIn,
    ctx: InteractionsWrite,
    request: Request,
    settings: AppSettings,
) -> InteractionOut:
    """To a queue or a colleague: the caller waits in the queue until the next agent accepts."""
    colleague = data.agent_id is not None and await serves(ctx.session, data.agent_id)
    found = await controls.transfer(
        ctx.session,
        _controls(request, settings),
        ctx.actor,
        interaction_id,
        queue_id=data.queue_id,
        agent_id=data.agent_id,
        note=data.note,
        serves_tenant=colleague,
    )
    return InteractionOut.model_validate(found)


@calls_router.post("/{interaction_id}/hang-up", response_model=InteractionOut)
async def hang_up_call(
    interaction_id: uuid.UUID, ctx: InteractionsWrite, request: Request, settings: AppSettings
) -> InteractionOut:
    """The call ends at the provider; the agent goes on to wrap-up."""
    found = await controls.hang_up(
        ctx.session, _controls(request, settings), ctx.actor, interaction_id
    )
    return InteractionOut.model_validate(found)
