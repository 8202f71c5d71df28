"""The demo's routing, and the live traffic that keeps it moving.

``seed_routing`` gives each demo company a skill and a queue per topic and gives the agent pool
its skills, languages and capacities. ``DemoTraffic`` then plays the outside world while
``centralita run`` serves the demo: customers arrive on every channel at a gentle pace (and
some give up waiting), and the pool's agents (not the named logins, who are left to the person
trying the demo) sign in, accept what they are offered and wrap it up after a while. Everything
goes through the same services the API uses, so the router, the wallboard and the agent desktop
see real work.
"""

import asyncio
import logging
import random
import uuid
from collections.abc import Mapping

from faker import Faker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.chat import service as chat
from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.config import Settings
from centralita.customers.models import Customer, CustomerIdentity, IdentityKind
from centralita.customers.service import IdentityRules, find_or_create
from centralita.db.engine import Database
from centralita.db.scoping import use_system_scope, use_tenant_scope
from centralita.errors import DomainError
from centralita.events.service import Actor
from centralita.identity.models import User
from centralita.interactions import service as interactions
from centralita.interactions.models import AuthorKind, Channel, Interaction, InteractionState
from centralita.interactions.schemas import InteractionCreate, InteractionUpdate, MessageIn
from centralita.routing import work
from centralita.routing.engine import Presence
from centralita.routing.models import (
    AgentProfile,
    AgentSkill,
    Assignment,
    Outcome,
    Queue,
    QueueSkill,
    Skill,
)
from centralita.tenancy.models import Tenant

logger = logging.getLogger(__name__)

DEMO_DOMAIN = "@centralita.demo"
# People trying the demo sign in as these; the simulation never acts for them.
HUMAN_LOGINS = frozenset(
    {"agente@centralita.demo", "agent@centralita.demo", "supervisor@centralita.demo"}
)
LIVE_CHANNELS = {Channel.VOICE: 5, Channel.CHAT: 3, Channel.EMAIL: 2, Channel.SMS: 1}
MEAN_SECONDS_BETWEEN_ARRIVALS = 8.0
SHARE_OF_AGENTS_SIGNED_IN = 0.6
# Returning customers are offered to the agent who served them last (affinity), who is nearly
# always someone in the simulated pool; first contacts go to the best-skilled agent available,
# which is how the person trying the demo gets work.
FIRST_CONTACT_SHARE = 0.4
SECONDS_TO_ANSWER = (1.0, 4.0)
HANDLE_SECONDS_MEDIAN = 45.0
PATIENCE_SECONDS = (40.0, 240.0)
TICK_SECONDS = 1.0
# Each demo company's phone line (voice and SMS); its provider account is set up by whoever
# connects the demo to a real provider (the auth token goes into the address settings).
DEMO_NUMBERS = {
    "banco-horizonte": "+34910000100",
    "movilia": "+525510000200",
    "bloom-flowers": "+442079460300",
}


async def seed_routing(
    session: AsyncSession,
    rng: random.Random,
    tenant: Tenant,
    queue_names: list[str],
    agents: list[User],
) -> None:
    """A skill and a queue per topic (each serving every channel, tickets' tasks too), and
    skilled agents."""
    await use_tenant_scope(session, tenant.id)
    skills: dict[str, uuid.UUID] = {}
    for n, name in enumerate(queue_names):
        skill = Skill(tenant_id=tenant.id, name=name)
        queue = Queue(
            tenant_id=tenant.id,
            name=name,
            channels=[c.value for c in Channel],
            language=tenant.default_locale,
            priority=0,
            sl_target_percent=80,
            sl_threshold_seconds=20,
            overflow=[{"after_seconds": 30, "min_level": 1, "extra_queue_ids": []}],
            offer_timeout_seconds=15,
            is_default=n == 0,
        )
        session.add_all([skill, queue])
        await session.flush()
        session.add(
            QueueSkill(tenant_id=tenant.id, queue_id=queue.id, skill_id=skill.id, min_level=2)
        )
        skills[name] = skill.id
    for agent in agents:
        for skill_id in skills.values():
            # The named logins are the only experts (level 5; rule A2 prefers them), so the
            # person trying the demo is offered work as soon as they are available.
            if agent.email in HUMAN_LOGINS:
                level = 5
            elif rng.random() < 0.8:
                level = rng.choices((1, 2, 3, 4), weights=(1, 3, 4, 3))[0]
            else:
                continue
            session.add(
                AgentSkill(tenant_id=tenant.id, user_id=agent.id, skill_id=skill_id, level=level)
            )
    await _seed_addresses(session, tenant, queue_names[0] if queue_names else None)
    await session.flush()
    await use_system_scope(session)


async def _seed_addresses(session: AsyncSession, tenant: Tenant, queue: str | None) -> None:
    """A chat widget (its script at /chat/{slug}/widget.js) and a phone line for voice and SMS."""
    session.add(
        ChannelAddress(
            tenant_id=tenant.id,
            channel=AddressChannel.CHAT,
            address=f"widget-{tenant.slug}",
            display_name=tenant.name,
            queue=queue,
            settings={},
        )
    )
    number = DEMO_NUMBERS.get(tenant.slug)
    if number is not None:
        for channel in (AddressChannel.VOICE, AddressChannel.SMS):
            session.add(
                ChannelAddress(
                    tenant_id=tenant.id,
                    channel=channel,
                    address=number,
                    display_name=tenant.name,
                    queue=queue,
                    settings={},
                )
            )


async def seed_profiles(
    session: AsyncSession, people: list[tuple[User, tuple[str, ...]]], locales: Mapping[str, str]
) -> None:
    """Each agent speaks their own language and those of the companies they serve."""
    for user, slugs in people:
        languages = sorted({user.locale} | {locales[slug] for slug in slugs})
        session.add(AgentProfile(user_id=user.id, languages=languages))
    await session.flush()


class DemoTraffic:
    """Customers and pool agents, simulated against the real services while the demo runs."""

    def __init__(self, db: Database, settings: Settings, seed: int | None = None) -> None:
        self.db = db
        self.settings = settings
        self.rng = random.Random(seed)
        self.fakers = {"es": Faker("es_ES"), "en": Faker("en_GB")}
        for fake in self.fakers.values():
            fake.seed_instance(seed)
        self.next_arrival = 0.0
        # When each pool agent's piece of work moves on (answered, then wrapped up).
        self.due: dict[uuid.UUID, float] = {}
        # When each waiting customer gives up.
        self.patience: dict[uuid.UUID, float] = {}

    async def run(self) -> None:
        await self._sign_in_pool()
        loop = asyncio.get_running_loop()
        self.next_arrival = loop.time()
        while True:
            try:
                if loop.time() >= self.next_arrival:
                    await self._arrive()
                    gap = self.rng.expovariate(1 / MEAN_SECONDS_BETWEEN_ARRIVALS)
                    self.next_arrival = loop.time() + gap
                await self._agents_work(loop.time())
                await self._customers_give_up(loop.time())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("demo traffic: a step failed; going on")
            await asyncio.sleep(TICK_SECONDS)

    async def _sign_in_pool(self) -> None:
        async with self.db.system_session() as session:
            query = select(AgentProfile, User).join(User, User.id == AgentProfile.user_id)
            for profile, user in (await session.execute(query)).all():
                if user.email in HUMAN_LOGINS or not user.email.endswith(DEMO_DOMAIN):
                    continue
                signed_in = self.rng.random() < SHARE_OF_AGENTS_SIGNED_IN
                presence = Presence.AVAILABLE if signed_in else Presence.OFFLINE
                if profile.presence != presence:
                    await work.record_presence(session, profile, presence, None)
            await session.commit()

    async def _arrive(self) -> None:
        async with self.db.system_session() as session:
            tenants = list((await session.execute(select(Tenant))).scalars())
            queues = list((await session.execute(select(Queue))).scalars())
            if not tenants or not queues:
                return
            tenant = self.rng.choice(tenants)
            names = [q.name for q in queues if q.tenant_id == tenant.id]
            await use_tenant_scope(session, tenant.id)
            if self.rng.random() < FIRST_CONTACT_SHARE:
                customer: Customer | None = await self._first_contact(session, tenant)
            else:
                customer = (
                    await session.execute(
                        select(Customer)
                        .order_by(Customer.id)
                        .offset(self.rng.randrange(100))
                        .limit(1)
                    )
                ).scalar()
            if customer is None or not names:
                return
            channel = self.rng.choices(list(LIVE_CHANNELS), weights=list(LIVE_CHANNELS.values()))[0]
            rules = IdentityRules.for_tenant(tenant, self.settings.secret_key)
            widget = await chat.widget_address(session) if channel == Channel.CHAT else None
            if widget is not None:
                await self._chat(session, tenant, widget, customer, rules)
                await session.commit()
                return
            await interactions.create_interaction(
                session,
                tenant,
                Actor(label="demo customer"),
                InteractionCreate(
                    channel=channel,
                    customer_id=customer.id,
                    queue=self.rng.choice(names),
                    subject=SUBJECTS[tenant.default_locale],
                    message=MessageIn(
                        author_kind=AuthorKind.CUSTOMER, text=SAYS[tenant.default_locale]
                    ),
                ),
                rules,
            )
            await session.commit()

    async def _first_contact(self, session: AsyncSession, tenant: Tenant) -> Customer:
        """Someone who never contacted the company before, known by a new email address."""
        fake = self.fakers[tenant.default_locale]
        name = fake.name()
        email = f"{fake.user_name()}.{self.rng.randrange(10**6)}@example.com"
        found = await find_or_create(session, tenant.id, IdentityKind.EMAIL, email, name)
        return found.customer

    async def _chat(
        self,
        session: AsyncSession,
        tenant: Tenant,
        widget: ChannelAddress,
        customer: Customer,
        rules: IdentityRules,
    ) -> None:
        """A returning visitor opens the widget: the chat adapter's own path, as from a page."""
        email = await session.scalar(
            select(CustomerIdentity.value).where(
                CustomerIdentity.customer_id == customer.id,
                CustomerIdentity.kind == IdentityKind.EMAIL,
            )
        )
        await chat.start(
            session,
            tenant,
            widget,
            rules,
            visitor_id=f"v-demo-{customer.id.hex}",
            conversation_ref=chat.new_conversation_ref(),
            form=chat.PreChat(
                name=customer.display_name,
                email=email,
                topic=SUBJECTS[tenant.default_locale],
                text=SAYS[tenant.default_locale],
                language=tenant.default_locale,
            ),
            client_id=uuid.uuid4().hex,
        )

    async def _agents_work(self, now: float) -> None:
        """Pool agents answer their offers after a moment and finish their work after a while."""
        async with self.db.system_session() as session:
            query = (
                select(Assignment, User)
                .join(User, User.id == Assignment.agent_user_id)
                .where(Assignment.released_at.is_(None))
            )
            for assignment, user in (await session.execute(query)).all():
                if user.email in HUMAN_LOGINS:
                    continue
                due = self.due.setdefault(assignment.interaction_id, now + self._delay(assignment))
                if now < due:
                    continue
                actor = Actor(label=user.email, user_id=user.id)
                await use_tenant_scope(session, assignment.tenant_id)
                try:
                    async with session.begin_nested():
                        if assignment.outcome == Outcome.PENDING:
                            await work.accept(session, actor, assignment.interaction_id)
                            self.due[assignment.interaction_id] = now + self._handle_time()
                        else:
                            await work.complete(
                                session, actor, assignment.interaction_id, "resolved", None
                            )
                            del self.due[assignment.interaction_id]
                except DomainError as refused:
                    logger.debug("demo traffic: %s", refused)
                await use_system_scope(session)
            await session.commit()

    def _delay(self, assignment: Assignment) -> float:
        if assignment.outcome == Outcome.PENDING:
            return self.rng.uniform(*SECONDS_TO_ANSWER)
        return self._handle_time()

    def _handle_time(self) -> float:
        return self.rng.lognormvariate(0, 0.5) * HANDLE_SECONDS_MEDIAN

    async def _customers_give_up(self, now: float) -> None:
        """A customer left waiting too long hangs up or closes the chat."""
        async with self.db.system_session() as session:
            query = select(Interaction).where(Interaction.state == InteractionState.QUEUED)
            waiting = list((await session.execute(query)).scalars())
            self.patience = {
                i.id: self.patience.get(i.id) or now + self.rng.uniform(*PATIENCE_SECONDS)
                for i in waiting
            }
            for interaction in waiting:
                if now < self.patience[interaction.id]:
                    continue
                await use_tenant_scope(session, interaction.tenant_id)
                await interactions.update_interaction(
                    session,
                    Actor(label="demo customer"),
                    interaction.id,
                    InteractionUpdate(state=InteractionState.ABANDONED),
                )
                await use_system_scope(session)
            await session.commit()


SUBJECTS = {"es": "Consulta en curso", "en": "Ongoing enquiry"}
SAYS = {
    "es": "Hola, necesito ayuda con mi cuenta.",
    "en": "Hello, I need some help with my account.",
}
