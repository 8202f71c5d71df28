"""``centralita demo`` seeds a believable installation once, and never twice."""

import asyncio
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from centralita import demo
from centralita.config import Settings
from centralita.customers.models import Customer
from centralita.customers.service import IdentityRules
from centralita.db import migrate
from centralita.db.engine import Database, open_database
from centralita.db.scoping import use_tenant_scope
from centralita.demo_routing import DemoTraffic
from centralita.events.service import Actor
from centralita.identity import service as identity
from centralita.identity.models import Membership, User
from centralita.interactions import service as interactions
from centralita.interactions.models import Channel
from centralita.interactions.schemas import InteractionCreate
from centralita.journey.service import customer_360
from centralita.routing import work
from centralita.routing.engine import Presence
from centralita.routing.models import AgentProfile, Assignment
from centralita.routing.runner import RoutingRunner
from centralita.tenancy.models import Tenant


async def _empty_database(tmp_path: Path) -> tuple[Database, Settings]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(database_url=url, argon2_time_cost=1, argon2_memory_kib=64)
    return open_database(url), settings


async def test_demo_seeds_an_empty_database_once(tmp_path: Path) -> None:
    db, settings = await _empty_database(tmp_path)
    try:
        summary = await demo.seed(db, settings)
        again = await demo.seed(db, settings)

        async with db.system_session() as session:
            tenants = {t.slug: t for t in (await session.execute(select(Tenant))).scalars()}
            signed_in = await identity.sign_in(
                session,
                identity.Passwords(settings),
                settings,
                email="agente@centralita.demo",
                password=demo.DEMO_PASSWORD,
                ip="127.0.0.1",
            )
            bank = tenants["banco-horizonte"]
            await use_tenant_scope(session, bank.id)
            customers = (
                await session.execute(select(func.count()).select_from(Customer))
            ).scalar_one()
            busiest = (await session.execute(select(Customer))).scalars().all()
            views = [await customer_360(session, c.id, limit=200) for c in busiest[:40]]
    finally:
        await db.dispose()

    assert summary is not None
    assert again is None
    assert set(tenants) == {"banco-horizonte", "movilia", "bloom-flowers"}
    assert {tenants["bloom-flowers"].default_locale, bank.default_locale} == {"en", "es"}
    assert summary.agents >= 30
    assert 100 <= customers <= 200
    assert summary.interactions >= 500
    assert signed_in.user is not None
    channels = Counter(item.channel for view in views for item in view.timeline.items)
    assert len(channels) >= 4
    assert any(len({i.channel for i in v.timeline.items}) >= 2 for v in views)


async def test_the_person_trying_the_demo_is_offered_work_before_the_simulated_pool(
    tmp_path: Path,
) -> None:
    db, settings = await _empty_database(tmp_path)
    try:
        await demo.seed(db, settings)
        traffic = DemoTraffic(db, settings, seed=3)
        await traffic._sign_in_pool()
        async with db.system_session() as session:
            human = (
                await session.execute(select(User).where(User.email == "agente@centralita.demo"))
            ).scalar_one()
            profile = await session.get(AgentProfile, human.id)
            assert profile is not None
            await work.record_presence(session, profile, Presence.AVAILABLE, None)
            pool_available = await session.scalar(
                select(func.count())
                .select_from(AgentProfile)
                .where(AgentProfile.presence == Presence.AVAILABLE)
            )
            tenant_id = (
                (
                    await session.execute(
                        select(Membership.tenant_id).where(Membership.user_id == human.id)
                    )
                )
                .scalars()
                .first()
            )
            tenant = await session.get(Tenant, tenant_id)
            assert tenant is not None
            await session.commit()
        assert pool_available is not None
        assert pool_available > 5

        runner = RoutingRunner(db, clock=time.time)
        await runner.rebuild()
        async with db.tenant_session(tenant.id) as session:
            # A first contact: a returning customer would go to whoever served them last.
            newcomer = await traffic._first_contact(session, tenant)
            thread = await interactions.create_interaction(
                session,
                tenant,
                Actor(label="demo customer"),
                InteractionCreate(
                    channel=Channel.CHAT,
                    customer_id=newcomer.id,
                    language=tenant.default_locale,
                ),
                IdentityRules.for_tenant(tenant, settings.secret_key),
            )
            await session.commit()
        # The seeded history left routing jobs behind; a few loops reach the new chat's.
        for _ in range(5):
            await runner.step()
        async with db.tenant_session(tenant.id) as session:
            offered_to = await session.scalar(
                select(Assignment.agent_user_id).where(
                    Assignment.interaction_id == thread.interaction.id
                )
            )
    finally:
        await db.dispose()
    assert offered_to == human.id
