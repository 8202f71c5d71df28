import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, WebSocket

from centralita.api.deps import (
    CurrentPrincipal,
    DbSession,
    TenantContext,
    require,
    websocket_principal,
)
from centralita.db.scoping import use_tenant_scope
from centralita.errors import Forbidden, InvalidInput
from centralita.events.bus import supervisors_topic, user_topic
from centralita.events.hub import Hub, serve_websocket
from centralita.identity.permissions import Permission
from centralita.identity.service import Principal
from centralita.interactions.schemas import InteractionOut
from centralita.interactions.service import get_interaction
from centralita.routing import service, stats, work
from centralita.routing.engine import Load, Presence
from centralita.routing.models import AgentProfile
from centralita.routing.schemas import (
    AgentOut,
    AgentSkillOut,
    AgentUpdate,
    HeldWorkOut,
    MyWorkOut,
    OfferToIn,
    PerLoadOut,
    PositionOut,
    PresenceIn,
    PresenceOut,
    QueueAvailability,
    QueueCreate,
    QueueDetail,
    QueueOut,
    QueueStats,
    QueueUpdate,
    RequiredSkillOut,
    SkillCreate,
    SkillOut,
    SkillUpdate,
    TransferIn,
    WrapUpIn,
)
from centralita.tenancy.service import get_tenant_by_slug

router = APIRouter(prefix="/api/v1/tenants/{tenant_slug}", tags=["routing"])

RoutingRead = Annotated[TenantContext, Depends(require(Permission.TENANT_READ))]
RoutingManage = Annotated[TenantContext, Depends(require(Permission.ROUTING_MANAGE))]
WorkOn = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_WRITE))]
WorkRead = Annotated[TenantContext, Depends(require(Permission.INTERACTIONS_READ))]
ReportsRead = Annotated[TenantContext, Depends(require(Permission.REPORTS_READ))]

# The agent's own presence and work span every tenant they serve.
agents_router = APIRouter(prefix="/api/v1/agents/me", tags=["routing"])
realtime_router = APIRouter(tags=["realtime"])


# --- skills ----------------------------------------------------------------------------------


@router.post("/skills", status_code=201, response_model=SkillOut)
async def create_skill(data: SkillCreate, ctx: RoutingManage) -> SkillOut:
    skill = await service.create_skill(ctx.session, ctx.actor, ctx.tenant_id, data)
    return SkillOut.model_validate(skill)


@router.get("/skills", response_model=list[SkillOut])
async def list_skills(ctx: RoutingRead) -> list[SkillOut]:
    return [SkillOut.model_validate(skill) for skill in await service.list_skills(ctx.session)]


@router.get("/skills/{skill_id}", response_model=SkillOut)
async def get_skill(skill_id: uuid.UUID, ctx: RoutingRead) -> SkillOut:
    return SkillOut.model_validate(await service.get_skill(ctx.session, skill_id))


@router.patch("/skills/{skill_id}", response_model=SkillOut)
async def update_skill(skill_id: uuid.UUID, data: SkillUpdate, ctx: RoutingManage) -> SkillOut:
    skill = await service.update_skill(ctx.session, ctx.actor, skill_id, data)
    return SkillOut.model_validate(skill)


@router.delete("/skills/{skill_id}", status_code=204)
async def delete_skill(skill_id: uuid.UUID, ctx: RoutingManage) -> Response:
    await service.delete_skill(ctx.session, ctx.actor, skill_id)
    return Response(status_code=204)


# --- queues ----------------------------------------------------------------------------------


def _queue_detail(view: service.QueueView) -> QueueDetail:
    return QueueDetail(
        **dict(QueueOut.model_validate(view.queue)),
        skills=[RequiredSkillOut.model_validate(s, from_attributes=True) for s in view.skills],
    )


@router.post("/queues", status_code=201, response_model=QueueDetail)
async def create_queue(data: QueueCreate, ctx: RoutingManage) -> QueueDetail:
    return _queue_detail(await service.create_queue(ctx.session, ctx.actor, ctx.tenant_id, data))


@router.get("/queues", response_model=list[QueueDetail])
async def list_queues(ctx: RoutingRead) -> list[QueueDetail]:
    return [_queue_detail(view) for view in await service.list_queues(ctx.session)]


@router.get("/queues/{queue_id}", response_model=QueueDetail)
async def get_queue(queue_id: uuid.UUID, ctx: RoutingRead) -> QueueDetail:
    return _queue_detail(await service.get_queue(ctx.session, queue_id))


@router.patch("/queues/{queue_id}", response_model=QueueDetail)
async def update_queue(queue_id: uuid.UUID, data: QueueUpdate, ctx: RoutingManage) -> QueueDetail:
    return _queue_detail(await service.update_queue(ctx.session, ctx.actor, queue_id, data))


@router.delete("/queues/{queue_id}", status_code=204)
async def delete_queue(queue_id: uuid.UUID, ctx: RoutingManage) -> Response:
    await service.delete_queue(ctx.session, ctx.actor, queue_id)
    return Response(status_code=204)


# --- agents ----------------------------------------------------------------------------------


def _per_load(profile: AgentProfile, prefix: str) -> PerLoadOut:
    return PerLoadOut.model_validate({kind: getattr(profile, f"{prefix}_{kind}") for kind in Load})


def _agent_out(agent: service.AgentView) -> AgentOut:
    profile = agent.profile
    return AgentOut(
        user_id=agent.user.id,
        display_name=agent.user.display_name,
        role=agent.role,
        presence=profile.presence,
        presence_reason=profile.presence_reason,
        languages=profile.languages,
        capacity=_per_load(profile, "capacity"),
        load=_per_load(profile, "load"),
        occupancy_cap=profile.occupancy_cap,
        wrap_up_seconds=profile.wrap_up_seconds,
        skills=[AgentSkillOut.model_validate(s, from_attributes=True) for s in agent.skills],
    )


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(ctx: RoutingRead) -> list[AgentOut]:
    return [_agent_out(agent) for agent in await service.list_agents(ctx.session)]


@router.get("/agents/{user_id}", response_model=AgentOut)
async def get_agent(user_id: uuid.UUID, ctx: RoutingRead) -> AgentOut:
    return _agent_out(await service.get_agent(ctx.session, user_id))


@router.put("/agents/{user_id}", response_model=AgentOut)
async def configure_agent(user_id: uuid.UUID, data: AgentUpdate, ctx: RoutingManage) -> AgentOut:
    agent = await service.configure_agent(ctx.session, ctx.actor, ctx.tenant_id, user_id, data)
    return _agent_out(agent)


def _presence_out(profile: AgentProfile) -> PresenceOut:
    return PresenceOut.model_validate(profile, from_attributes=True)


@router.put("/agents/{user_id}/presence", response_model=PresenceOut)
async def override_presence(
    user_id: uuid.UUID, data: PresenceIn, ctx: RoutingManage
) -> PresenceOut:
    """A supervisor signs an agent out or sets them away; only the agent makes themselves
    available."""
    await service.get_agent(ctx.session, user_id)
    if data.presence == Presence.AVAILABLE:
        raise InvalidInput.on_field("body.presence", "only the agent can make themselves available")
    profile = await work.set_presence(ctx.session, user_id, data.presence, data.reason)
    return _presence_out(profile)


# --- the agent's own presence and work ---------------------------------------------------------


def _agent_id(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Forbidden("Only a signed-in agent has a presence and work")
    return principal.user_id


@agents_router.put("/presence", response_model=PresenceOut)
async def set_my_presence(
    data: PresenceIn, principal: CurrentPrincipal, session: DbSession
) -> PresenceOut:
    profile = await work.set_presence(session, _agent_id(principal), data.presence, data.reason)
    return _presence_out(profile)


async def _my_work(session: DbSession, principal: Principal) -> MyWorkOut:
    agent_id = _agent_id(principal)
    profile = await service.get_agent_profile(session, agent_id)
    held = await work.work_in_hand(session, agent_id, principal.roles)
    return MyWorkOut(
        **dict(_presence_out(profile)),
        work=[
            HeldWorkOut(
                tenant_slug=item.tenant_slug,
                interaction_id=item.interaction.id,
                customer_id=item.interaction.customer_id,
                channel=item.interaction.channel,
                queue=item.interaction.queue,
                subject=item.interaction.subject,
                state=item.interaction.state,
                offered_at=item.assignment.offered_at,
                expires_at=item.assignment.expires_at,
                answered_at=item.assignment.answered_at,
            )
            for item in held
        ],
    )


@agents_router.get("/work", response_model=MyWorkOut)
async def my_work(principal: CurrentPrincipal, session: DbSession) -> MyWorkOut:
    """Presence, and the work offered to the agent or in their hands, in every tenant."""
    return await _my_work(session, principal)


# --- work: offers, transfer, wrap-up -----------------------------------------------------------


def _out(interaction: Any) -> InteractionOut:
    return InteractionOut.model_validate(interaction)


@router.post("/interactions/{interaction_id}/accept", response_model=InteractionOut)
async def accept_offer(interaction_id: uuid.UUID, ctx: WorkOn) -> InteractionOut:
    return _out(await work.accept(ctx.session, ctx.actor, interaction_id))


@router.post("/interactions/{interaction_id}/reject", response_model=InteractionOut)
async def reject_offer(interaction_id: uuid.UUID, ctx: WorkOn) -> InteractionOut:
    return _out(await work.reject(ctx.session, ctx.actor, interaction_id))


@router.post("/interactions/{interaction_id}/transfer", response_model=InteractionOut)
async def transfer(interaction_id: uuid.UUID, data: TransferIn, ctx: WorkOn) -> InteractionOut:
    serves = data.agent_id is not None and await service.serves(ctx.session, data.agent_id)
    interaction = await work.transfer(
        ctx.session,
        ctx.actor,
        interaction_id,
        queue_id=data.queue_id,
        agent_id=data.agent_id,
        note=data.note,
        serves_tenant=serves,
    )
    return _out(interaction)


@router.post("/interactions/{interaction_id}/offer", response_model=InteractionOut)
async def offer_to_agent(
    interaction_id: uuid.UUID, data: OfferToIn, ctx: RoutingManage
) -> InteractionOut:
    """A supervisor hands waiting work to a chosen agent (who may accept or reject it)."""
    serves = await service.serves(ctx.session, data.agent_id)
    interaction = await work.offer_to(
        ctx.session, interaction_id, data.agent_id, serves_tenant=serves
    )
    return _out(interaction)


@router.post("/interactions/{interaction_id}/end", response_model=InteractionOut)
async def end_conversation(interaction_id: uuid.UUID, ctx: WorkOn) -> InteractionOut:
    """The conversation is over; wrap-up begins (the work keeps its capacity)."""
    return _out(await work.end_conversation(ctx.session, ctx.actor, interaction_id))


@router.post("/interactions/{interaction_id}/wrap-up", response_model=InteractionOut)
async def wrap_up(interaction_id: uuid.UUID, data: WrapUpIn, ctx: WorkOn) -> InteractionOut:
    """Record the disposition and free the agent for the next work."""
    interaction = await work.complete(
        ctx.session, ctx.actor, interaction_id, data.disposition, data.notes
    )
    return _out(interaction)


@router.get("/interactions/{interaction_id}/position", response_model=PositionOut)
async def queue_position(interaction_id: uuid.UUID, ctx: WorkRead) -> PositionOut:
    interaction = await get_interaction(ctx.session, interaction_id)
    position, wait = await stats.position_in_queue(ctx.session, interaction)
    return PositionOut(position=position, estimated_wait_seconds=wait)


@router.get("/queues/{queue_id}/availability", response_model=QueueAvailability)
async def queue_availability(queue_id: uuid.UUID, ctx: WorkRead) -> QueueAvailability:
    """Open or closed, estimated wait, and whether to offer a callback instead of waiting."""
    view = await service.get_queue(ctx.session, queue_id)
    return await stats.availability(ctx.session, ctx.tenant, view.queue)


@router.get("/stats/queues", response_model=list[QueueStats])
async def queue_statistics(ctx: ReportsRead) -> list[QueueStats]:
    """Per queue: waiting work, agents by state, and service level (last 30 minutes, today)."""
    return await stats.queue_statistics(ctx.session, ctx.tenant)


# --- real time ---------------------------------------------------------------------------------

UNAUTHORISED = 4401
FORBIDDEN = 4403


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    """Accept, then close with a code the page's script can read (a refused handshake hides it)."""
    await websocket.accept()
    await websocket.close(code, reason)


@realtime_router.websocket("/ws/agent")
async def agent_socket(
    websocket: WebSocket, last_event_id: Annotated[str | None, Query(max_length=64)] = None
) -> None:
    """Offers, assignments and changes to the agent's work, after a snapshot of it."""
    principal = await websocket_principal(websocket)
    if principal is None or principal.user_id is None:
        await _refuse(websocket, UNAUTHORISED, "Sign in first")
        return
    hub: Hub = websocket.app.state.hub
    # Events committed while the snapshot loads are replayed from here.
    since = last_event_id or hub.latest_event_id
    async with websocket.app.state.db.system_session() as session:
        snapshot = (await _my_work(session, principal)).model_dump(mode="json")
    topics = frozenset({user_topic(principal.user_id)})
    await serve_websocket(websocket, hub, topics, snapshot, since)


@realtime_router.websocket("/ws/supervisor")
async def supervisor_socket(
    websocket: WebSocket,
    tenant: Annotated[str, Query(max_length=100)],
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> None:
    """Queue statistics of one tenant, pushed every few seconds, after a snapshot."""
    principal = await websocket_principal(websocket)
    if principal is None:
        await _refuse(websocket, UNAUTHORISED, "Sign in first")
        return
    hub: Hub = websocket.app.state.hub
    since = last_event_id or hub.latest_event_id
    async with websocket.app.state.db.system_session() as session:
        found = await get_tenant_by_slug(session, tenant)
        if found is None or not principal.can(found.id, Permission.REPORTS_READ):
            await _refuse(websocket, FORBIDDEN, "Not allowed for this company")
            return
        await use_tenant_scope(session, found.id)
        queues = await stats.queue_statistics(session, found)
    snapshot = {"queues": [q.model_dump(mode="json") for q in queues]}
    topics = frozenset({supervisors_topic(found.id)})
    await serve_websocket(websocket, hub, topics, snapshot, since)
