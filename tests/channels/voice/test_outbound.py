"""Click-to-call through the provider's REST API (a local server speaking Twilio's format)."""

from sqlalchemy import select

from centralita.channels.models import AddressChannel
from centralita.config import Settings
from centralita.interactions.models import Direction, Interaction, InteractionState
from tests.channels.telephony import (
    ACCOUNT_SID,
    FakeProvider,
    add_number,
    new_number,
    signed_post,
    twiml,
)
from tests.conftest import TenantFixture
from tests.routing.world import agent_client, make_world


async def test_an_agent_calls_a_customer_through_the_provider(
    tenant_a: TenantFixture,
    settings: Settings,
    provider: FakeProvider,
) -> None:
    world = await make_world(tenant_a, settings)
    number = new_number()
    await add_number(tenant_a, AddressChannel.VOICE, number, world.queue.name)
    agent = await world.agent(name="Marta")
    http = await agent_client(world, agent)

    placed = await http.post(tenant_a.url("/calls"), json={"to": "612 34 56 78"})

    assert placed.status_code == 201, placed.text
    (request,) = provider.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert request["user"] == ACCOUNT_SID
    assert request["form"]["To"] == "+34612345678"
    assert request["form"]["From"] == number
    assert request["form"]["Url"] == f"http://testserver/telephony/voice/connect?agent={agent.id}"
    assert request["form"]["StatusCallback"] == "http://testserver/telephony/voice/status"
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        call = (await session.execute(select(Interaction))).scalar_one()
    assert call.direction == Direction.OUTBOUND
    assert call.state == InteractionState.ACTIVE
    assert call.agent_user_id == agent.id
    assert call.external_ref == placed.json()["external_ref"] == "CA" + "1".zfill(32)

    answered = twiml(
        await signed_post(
            http,
            f"/telephony/voice/connect?agent={agent.id}",
            {"CallSid": call.external_ref, "From": number, "To": "+34612345678"},
        )
    )
    client = answered.find("Dial/Client")
    assert client is not None
    assert client.text == f"agent-{agent.id}"
    hung_up = {"CallSid": call.external_ref, "From": number, "To": "+34612345678"}
    await signed_post(http, "/telephony/voice/status", {**hung_up, "CallStatus": "completed"})
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        call = (await session.execute(select(Interaction))).scalar_one()
    assert call.state == InteractionState.WRAP_UP

    provider.fail_next = 1
    refused = await http.post(tenant_a.url("/calls"), json={"to": "+34 699 111 222"})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("provider-failed")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        assert len((await session.execute(select(Interaction))).all()) == 1
    bad = await http.post(tenant_a.url("/calls"), json={"to": "not a number"})
    assert bad.status_code == 422
    await http.aclose()
