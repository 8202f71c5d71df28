"""An agent's controls on a live call (hold, resume, transfer, hang up) reach the provider as
Twilio-format REST requests to a local server, and the call's TwiML follows them."""

import secrets
import uuid

import httpx
import pytest
from sqlalchemy import delete

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.config import Settings
from centralita.interactions.models import Channel, Interaction, InteractionState
from tests.channels.telephony import (
    ACCOUNT_SID,
    FakeProvider,
    add_number,
    new_number,
    said,
    signed_post,
    twiml,
)
from tests.conftest import TenantFixture
from tests.routing.world import World, agent_client, make_world

CALLER = "+34612345600"
NUMBER = new_number()


@pytest.fixture
async def world(tenant_a: TenantFixture, settings: Settings) -> World:
    world = await make_world(tenant_a, settings)
    async with world.db.system_session() as session:
        await session.execute(
            delete(ChannelAddress).where(
                ChannelAddress.channel == AddressChannel.VOICE, ChannelAddress.address == NUMBER
            )
        )
        await session.commit()
    await add_number(tenant_a, AddressChannel.VOICE, NUMBER, world.queue.name)
    return world


def _call(sid: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": CALLER, "To": NUMBER, **extra}


async def _state(world: World, interaction_id: uuid.UUID) -> Interaction:
    return await world.interaction(interaction_id)


async def _answered_call(
    world: World, client: httpx.AsyncClient, agent_http: httpx.AsyncClient
) -> tuple[str, uuid.UUID]:
    """A caller steered into the queue, offered to the agent by routing, accepted."""
    sid = f"CA{secrets.token_hex(16)}"
    await signed_post(client, "/telephony/voice/steer", _call(sid, Digits="2"))
    await world.step()
    work = (await agent_http.get("/api/v1/agents/me/work")).json()["work"]
    (offered,) = [item for item in work if item["channel"] == Channel.VOICE]
    accepted = await agent_http.post(
        world.tenant.url(f"/interactions/{offered['interaction_id']}/accept")
    )
    assert accepted.is_success, accepted.text
    return sid, uuid.UUID(offered["interaction_id"])


async def test_hold_resume_transfer_and_hang_up_go_through_the_provider(
    world: World, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    marta = await world.agent(name="Marta")
    await world.start_router()
    http = await agent_client(world, marta)
    sid, call_id = await _answered_call(world, client, http)
    calls = world.tenant.url(f"/calls/{call_id}")
    live_call = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json"

    held = await http.post(f"{calls}/hold")
    assert held.status_code == 200, held.text
    assert provider.requests[-1]["path"] == live_call
    assert provider.requests[-1]["user"] == ACCOUNT_SID
    assert provider.requests[-1]["form"] == {
        "Url": "http://testserver/telephony/voice/hold",
        "Method": "POST",
    }
    on_hold = twiml(await signed_post(client, "/telephony/voice/hold", _call(sid)))
    assert said(on_hold) == ["No cuelgue; su agente vuelve con usted enseguida."]
    redirect = on_hold.find("Redirect")
    assert redirect is not None
    assert redirect.text == "/telephony/voice/hold"

    resumed = await http.post(f"{calls}/resume")
    assert resumed.status_code == 200, resumed.text
    assert provider.requests[-1]["form"]["Url"] == (
        f"http://testserver/telephony/voice/connect?agent={marta.id}"
    )

    # Straight to a colleague: the caller waits in the queue until Luis accepts, then is put
    # through to Luis's softphone.
    luis = await world.agent(name="Luis")
    luis_http = await agent_client(world, luis)
    moved = await http.post(
        f"{calls}/transfer", json={"agent_id": str(luis.id), "note": "Quiere hablar de su tarjeta"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == InteractionState.OFFERED
    assert provider.requests[-1]["form"]["Url"] == "http://testserver/telephony/voice/requeue"
    requeued = twiml(await signed_post(client, "/telephony/voice/requeue", _call(sid)))
    assert said(requeued) == ["No cuelgue, estamos transfiriendo su llamada."]
    enqueue = requeued.find("Enqueue")
    assert enqueue is not None
    assert enqueue.text == world.queue.name
    assert enqueue.get("action") == "/telephony/voice/bridge"
    accepted = await luis_http.post(world.tenant.url(f"/interactions/{call_id}/accept"))
    assert accepted.is_success, accepted.text
    bridged = twiml(
        await signed_post(client, "/telephony/voice/bridge", _call(sid, QueueResult="leave"))
    )
    dialled = bridged.find("Dial/Client")
    assert dialled is not None
    assert dialled.text == f"agent-{luis.id}"

    # Marta no longer holds the call: her controls are refused and the provider hears nothing.
    asked = len(provider.requests)
    refused = await http.post(f"{calls}/hold")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("not-your-work")
    assert len(provider.requests) == asked

    # The provider fails: nothing changes, and the agent is told why.
    provider.fail_next = 1
    failed = await luis_http.post(f"{calls}/hang-up")
    assert failed.status_code == 409
    assert failed.json()["type"].endswith("provider-failed")
    assert failed.headers["content-type"].startswith("application/problem+json")
    assert (await _state(world, call_id)).state == InteractionState.ACTIVE

    hung_up = await luis_http.post(f"{calls}/hang-up")
    assert hung_up.status_code == 200, hung_up.text
    assert provider.requests[-1]["form"] == {"Status": "completed"}
    assert (await _state(world, call_id)).state == InteractionState.WRAP_UP
    # The provider's own status callback afterwards changes nothing.
    await signed_post(client, "/telephony/voice/status", _call(sid, CallStatus="completed"))
    assert (await _state(world, call_id)).state == InteractionState.WRAP_UP
    again = await luis_http.post(f"{calls}/hang-up")
    assert again.status_code == 409
    assert again.json()["type"].endswith("wrong-state")
    await http.aclose()
    await luis_http.aclose()


async def test_a_call_moved_to_a_queue_waits_there_and_a_chat_has_no_call_controls(
    world: World, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    marta = await world.agent(name="Marta")
    await world.start_router()
    http = await agent_client(world, marta)
    admin = await world.tenant.client()
    other = await admin.post(
        world.tenant.url("/queues"), json={"name": "bajas", "channels": ["voice"]}
    )
    assert other.status_code == 201, other.text
    sid, call_id = await _answered_call(world, client, http)

    unknown = await http.post(
        world.tenant.url(f"/calls/{call_id}/transfer"), json={"queue_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.queue_id"

    moved = await http.post(
        world.tenant.url(f"/calls/{call_id}/transfer"), json={"queue_id": other.json()["id"]}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == InteractionState.QUEUED
    requeued = twiml(await signed_post(client, "/telephony/voice/requeue", _call(sid)))
    enqueue = requeued.find("Enqueue")
    assert enqueue is not None
    assert enqueue.text == "bajas"

    chat = await world.arrive(Channel.CHAT)
    not_a_call = await http.post(world.tenant.url(f"/calls/{chat}/hold"))
    assert not_a_call.status_code == 409
    assert not_a_call.json()["type"].endswith("not-a-call")
    await http.aclose()
