"""A small contact center for routing tests: a tenant, skills, a queue, agents, and a router
driven step by step on a clock the test moves."""

import secrets
import time
import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from centralita.config import Settings
from centralita.customers.service import IdentityRules
from centralita.db.engine import Database
from centralita.identity import service as identity
from centralita.identity.models import User
from centralita.identity.permissions import Role
from centralita.interactions import service as interactions
from centralita.interactions.models import Channel, Interaction
from centralita.interactions.schemas import IdentityIn, InteractionCreate
from centralita.routing.engine import Presence
from centralita.routing.models import AgentProfile, AgentSkill, Assignment, Queue, QueueSkill, Skill
from centralita.routing.runner import ROUTING_JOBS, RoutingRunner
from tests.conftest import TEST_ACTOR, TenantFixture, clear_jobs


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    tenant: TenantFixture
    settings: Settings
    db: Database
    queue: Queue
    skill: Skill
    clock: FakeClock = field(default_factory=FakeClock)
    runner: RoutingRunner | None = None

    async def start_router(self) -> RoutingRunner:
        self.runner = RoutingRunner(self.db, clock=self.clock)
        await self.runner.rebuild()
        return self.runner

    async def step(self) -> None:
        assert self.runner is not None
        await self.runner.step()

    async def agent(
        self,
        *,
        level: int = 3,
        presence: Presence = Presence.AVAILABLE,
        capacity_chat: int = 3,
        languages: tuple[str, ...] = ("es",),
        name: str = "Agente",
    ) -> User:
        async with self.db.system_session() as session:
            user = await identity.create_user(
                session,
                _passwords(self),
                email=f"agent-{secrets.token_hex(4)}@example.com",
                display_name=name,
                password="una contraseña larga 123",
            )
            await identity.grant_role(session, TEST_ACTOR, self.tenant.id, user, Role.AGENT)
            session.add(
                AgentProfile(
                    user_id=user.id,
                    presence=presence,
                    languages=list(languages),
                    capacity_chat=capacity_chat,
                )
            )
            session.add(
                AgentSkill(
                    tenant_id=self.tenant.id, user_id=user.id, skill_id=self.skill.id, level=level
                )
            )
            await session.commit()
        return user

    async def arrive(self, channel: Channel = Channel.CHAT, queue: str | None = None) -> uuid.UUID:
        """A customer contacts the tenant; the work waits in the queue."""
        async with self.db.tenant_session(self.tenant.id) as session:
            thread = await interactions.create_interaction(
                session,
                self.tenant.tenant,
                TEST_ACTOR,
                InteractionCreate(
                    channel=channel,
                    identity=IdentityIn(kind="email", value=f"c{secrets.token_hex(3)}@example.com"),
                    queue=queue or self.queue.name,
                    language="es",
                ),
                IdentityRules.for_tenant(self.tenant.tenant, self.settings.secret_key),
            )
            await session.commit()
        return thread.interaction.id

    async def interaction(self, interaction_id: uuid.UUID) -> Interaction:
        async with self.db.tenant_session(self.tenant.id) as session:
            found = await session.get(Interaction, (self.tenant.id, interaction_id))
            assert found is not None
            return found

    async def assignments(self, interaction_id: uuid.UUID) -> list[Assignment]:
        async with self.db.tenant_session(self.tenant.id) as session:
            query = (
                select(Assignment)
                .where(Assignment.interaction_id == interaction_id)
                .order_by(Assignment.offered_at, Assignment.id)
            )
            return list((await session.execute(query)).scalars())

    async def profile(self, user: User) -> AgentProfile:
        async with self.db.system_session() as session:
            found = await session.get(AgentProfile, user.id)
            assert found is not None
            return found


def _passwords(world: World) -> identity.Passwords:
    return world.tenant.app.state.passwords  # type: ignore[no-any-return]


async def make_world(tenant: TenantFixture, settings: Settings, name: str = "soporte") -> World:
    """A queue ``name`` serving chat, voice and email, requiring skill ``name`` at level 2."""
    await clear_jobs(tenant.db, ROUTING_JOBS)
    async with tenant.db.tenant_session(tenant.id) as session:
        skill = Skill(tenant_id=tenant.id, name=name)
        queue = Queue(
            tenant_id=tenant.id,
            name=name,
            channels=["chat", "voice", "email"],
            language="es",
            sl_threshold_seconds=20,
            offer_timeout_seconds=15,
        )
        session.add_all([skill, queue])
        await session.flush()
        session.add(
            QueueSkill(tenant_id=tenant.id, queue_id=queue.id, skill_id=skill.id, min_level=2)
        )
        await session.commit()
    return World(tenant, settings, tenant.db, queue, skill)


async def session_cookie(world: World, user: User) -> str:
    """A browser session of ``user``: the value of the ``centralita_session`` cookie."""
    async with world.db.system_session() as session:
        cookie = await identity.open_web_session(
            session, world.settings, user, ip="127.0.0.1", user_agent="tests"
        )
        await session.commit()
    return cookie


async def agent_client(world: World, user: User) -> httpx.AsyncClient:
    """An API client signed in as ``user`` with a browser session (cookie and CSRF token)."""
    cookie = await session_cookie(world, user)
    async with world.db.system_session() as session:
        principal = await identity.principal_from_cookie(session, cookie)
    assert principal is not None
    assert principal.csrf_token is not None
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.tenant.app),
        base_url="http://testserver",
        cookies={"centralita_session": cookie},
        headers={"x-csrf-token": principal.csrf_token},
    )
