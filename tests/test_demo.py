"""``centralita demo`` seeds a believable installation once, and never twice."""

import asyncio
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from centralita import demo
from centralita.config import Settings
from centralita.customers.models import Customer
from centralita.db import migrate
from centralita.db.engine import open_database
from centralita.db.scoping import use_tenant_scope
from centralita.identity import service as identity
from centralita.journey.service import customer_360
from centralita.tenancy.models import Tenant


async def test_demo_seeds_an_empty_database_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(database_url=url, argon2_time_cost=1, argon2_memory_kib=64)
    db = open_database(url)
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
