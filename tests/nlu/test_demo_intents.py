"""The demo tenants' intents: seeded with keywords, examples and a first model that steers."""

from sqlalchemy import func, select

from centralita.nlu.demo import DEMO_INTENTS, seed_intents
from centralita.nlu.models import ModelVersion
from centralita.nlu.service import steer
from tests.conftest import TenantFixture


async def test_a_demo_bank_steers_spanish_and_english_requests(tenant_a: TenantFixture) -> None:
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        made = await seed_intents(session, tenant_a.id, "banco-horizonte")
        await session.commit()

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        lost = await steer(session, tenant_a.id, "me han robado la tarjeta")
        balance = await steer(session, tenant_a.id, "how much money is in my account")
        weather = await steer(session, tenant_a.id, "¿va a llover el domingo?")
        versions = await session.scalar(select(func.count()).select_from(ModelVersion))

    assert made == len(DEMO_INTENTS["banco-horizonte"])
    assert versions == 1
    assert lost is not None
    assert (lost.intent, lost.queue, lost.source) == ("lost_card", "tarjetas", "model")
    assert balance is not None
    assert (balance.intent, balance.self_service) == ("balance", "balance")
    assert weather is None
