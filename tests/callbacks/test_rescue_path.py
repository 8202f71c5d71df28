"""The whole rescue path: a valued customer's low survey answer becomes a callback on the
rescue queue, is offered to an agent of that queue, who sees why it exists and places the call
through the provider, and the reached customer closes it."""

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import update

from centralita.config import Settings
from centralita.routing.models import Queue
from tests.automation.world import callbacks_of, customer, run_jobs
from tests.channels.telephony import ACCOUNT_SID, FakeProvider, add_number, new_number
from tests.channels.telephony import serve_provider as serve_telephony
from tests.conftest import TenantFixture
from tests.routing.world import agent_client, make_world
from tests.surveys.test_surveys import finished_contact, invitation_link, make_survey


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    yield from serve_telephony()


@pytest.fixture
def settings(settings: Settings, provider: FakeProvider) -> Settings:
    return settings.model_copy(update={"telephony_api_base_url": provider.url})


async def test_a_valued_customers_low_answer_reaches_a_rescue_agent_who_calls_back(
    tenant_a: TenantFixture,
    client: httpx.AsyncClient,
    settings: Settings,
    provider: FakeProvider,
) -> None:
    world = await make_world(tenant_a, settings, name="rescue")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await session.execute(
            update(Queue).where(Queue.id == world.queue.id).values(channels=["callback", "voice"])
        )
        await session.commit()
    number = new_number()
    await add_number(tenant_a, "voice", number, "rescue")  # type: ignore[arg-type]
    rita = await world.agent(name="Rita")
    await make_survey(tenant_a)
    gold = await customer(tenant_a, "gold", language="es", consent_sms=True)
    phone = gold["identities"][0]["value"]
    await finished_contact(tenant_a.db, tenant_a, gold)
    await run_jobs(tenant_a.db)
    _, link = await invitation_link(tenant_a.db, tenant_a)
    answered = await client.post(link, data={"csat": "1", "nps": "2", "comment": "Fatal"})
    assert answered.status_code == 200, answered.text
    await run_jobs(tenant_a.db)
    [rescue] = await callbacks_of(tenant_a, gold["id"])

    # The router offers the callback to the rescue agent, who takes it.
    await world.start_router()
    await world.step()
    agent = await agent_client(world, rita)
    work_id = rescue["interaction_id"]
    accepted = await agent.post(tenant_a.url(f"/interactions/{work_id}/accept"))
    assert accepted.status_code == 200, accepted.text

    # Why it exists: the reason, and the survey answer it carries.
    work = (await agent.get(tenant_a.url(f"/interactions/{work_id}"))).json()
    assert (work["channel"], work["queue"], work["state"]) == ("callback", "rescue", "active")
    assert work["agent_user_id"] == str(rita.id)
    assert work["subject"] == "Rescue: low survey answer"
    seen = (await agent.get(tenant_a.url(f"/callbacks/{rescue['id']}"))).json()
    assert (seen["context"]["event"]["csat"], seen["context"]["event"]["nps"]) == (1, 2)
    assert seen["phone"] == phone

    # One request places the call through the provider, from the company's number.
    placed = await agent.post(tenant_a.url("/calls"), json={"to": seen["phone"]})
    assert placed.status_code == 201, placed.text
    (request,) = provider.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert (request["form"]["To"], request["form"]["From"]) == (phone, number)
    reached = await agent.post(
        tenant_a.url(f"/callbacks/{rescue['id']}/attempts"), json={"outcome": "reached"}
    )
    assert reached.status_code in (200, 201), reached.text
    [done] = await callbacks_of(tenant_a, gold["id"])
    assert done["status"] == "completed"
    await agent.aclose()
