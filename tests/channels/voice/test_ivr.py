"""The phone menu through signed webhooks, checked as TwiML by an XML parse."""

import httpx
import pytest
from sqlalchemy import delete, func, select

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.config import Settings
from centralita.customers.models import Customer, IdentityKind
from centralita.customers.service import find_or_create
from centralita.interactions.models import Channel, Interaction, InteractionState, Message
from centralita.nlu.service import set_intent_route
from centralita.routing.models import Queue
from centralita.tickets.models import Ticket
from tests.channels.telephony import add_number, new_number, said, signed_post, twiml
from tests.conftest import TenantFixture
from tests.routing.world import World, agent_client, make_world

CALLER = "+34612345678"


# Addresses are unique across the shared test database: each run of this module has its own.
NUMBER = new_number()


@pytest.fixture
async def world(tenant_a: TenantFixture, settings: Settings) -> World:
    world = await make_world(tenant_a, settings)
    async with world.db.system_session() as session:
        # The number of the previous test (another tenant) is handed over to this one.
        await session.execute(
            delete(ChannelAddress).where(
                ChannelAddress.channel == AddressChannel.VOICE, ChannelAddress.address == NUMBER
            )
        )
        await session.commit()
    await add_number(tenant_a, AddressChannel.VOICE, NUMBER, world.queue.name)
    return world


def _call(sid: str = "CA1", **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": "AC0", "From": CALLER, "To": NUMBER, **extra}


async def _interactions(tenant: TenantFixture) -> list[Interaction]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(Interaction).order_by(Interaction.created_at)
        return list((await session.execute(query)).scalars())


async def _count(tenant: TenantFixture, column: object) -> int:
    async with tenant.db.tenant_session(tenant.id) as session:
        return int((await session.execute(select(func.count(column)))).scalar_one())  # type: ignore[arg-type]


async def test_unsigned_or_forged_webhooks_are_refused_and_store_nothing(
    world: World, client: httpx.AsyncClient
) -> None:
    params = _call(SpeechResult="quiero hablar con alguien")
    unsigned = await client.post("/telephony/voice/steer", data=params)
    forged = await signed_post(client, "/telephony/voice/steer", params, token="f" * 32)
    tampered_sig = (await signed_post(client, "/telephony/voice/incoming", params)).request
    tampered = await client.post(
        "/telephony/voice/steer",
        data={**params, "From": "+34699999999"},
        headers={"X-Twilio-Signature": tampered_sig.headers["X-Twilio-Signature"]},
    )
    for response in (unsigned, forged, tampered):
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    assert await _count(world.tenant, Interaction.id) == 0
    assert await _count(world.tenant, Customer.id) == 0


async def test_a_known_caller_is_greeted_by_name_and_asked_by_speech_or_keys(
    world: World, client: httpx.AsyncClient
) -> None:
    async with world.db.tenant_session(world.tenant.id) as session:
        known = await find_or_create(
            session, world.tenant.id, IdentityKind.PHONE, CALLER, "Lucía Pérez"
        )
        known.customer.preferred_name = "Lucía"
        await session.commit()

    root = twiml(await signed_post(client, "/telephony/voice/incoming", _call()))

    assert said(root)[0] == "Hola Lucía, bienvenido de nuevo a Banco Horizonte."
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("input") == "speech dtmf"
    assert gather.get("language") == "es-ES"
    assert gather.get("action") == "/telephony/voice/steer"
    stranger = twiml(
        await signed_post(client, "/telephony/voice/incoming", _call("CA2", From="+34699000111"))
    )
    assert said(stranger)[0] == "Bienvenido a Banco Horizonte."


async def test_what_the_caller_says_steers_the_call_into_a_queue_once(
    world: World, client: httpx.AsyncClient
) -> None:
    async with world.db.tenant_session(world.tenant.id) as session:
        session.add(Queue(tenant_id=world.tenant.id, name="facturacion", channels=["voice"]))
        await set_intent_route(
            session, world.tenant.id, "billing", queue="facturacion", keywords=["factura"]
        )
        await session.commit()
    params = _call(SpeechResult="Tengo un problema con mi factura", Confidence="0.92")

    first = twiml(await signed_post(client, "/telephony/voice/steer", params))
    retried = twiml(await signed_post(client, "/telephony/voice/steer", params))

    for root in (first, retried):
        enqueue = root.find("Enqueue")
        assert enqueue is not None
        assert enqueue.text == "facturacion"
        assert enqueue.get("waitUrl") == "/telephony/voice/wait"
    (call,) = await _interactions(world.tenant)
    assert call.channel == Channel.VOICE
    assert call.state == InteractionState.QUEUED
    assert call.queue == "facturacion"
    assert call.external_ref == "CA1"
    assert call.self_service_context["said"] == "Tengo un problema con mi factura"
    assert call.self_service_context["intent"] == "billing"
    assert await _count(world.tenant, Message.id) == 1

    waiting = twiml(await signed_post(client, "/telephony/voice/wait", _call(QueuePosition="1")))
    assert said(waiting) == ["Eres el número 1 en la cola; la espera estimada es de 3 minutos."]
    assert waiting.find("Pause") is not None

    # Hanging up while waiting: abandoned in the queue; the provider's retry changes nothing.
    for _ in range(2):
        done = await signed_post(client, "/telephony/voice/status", _call(CallStatus="completed"))
        assert done.status_code == 200
    (call,) = await _interactions(world.tenant)
    assert call.state == InteractionState.ABANDONED
    assert call.ended_at is not None


async def test_a_long_wait_offers_a_callback_that_keeps_the_callers_place(
    world: World, client: httpx.AsyncClient
) -> None:
    async with world.db.tenant_session(world.tenant.id) as session:
        queue = await session.get(Queue, (world.tenant.id, world.queue.id))
        assert queue is not None
        queue.callback_threshold_seconds = 60
        queue.channels = [*queue.channels, "callback"]
        await session.commit()
    twiml(await signed_post(client, "/telephony/voice/steer", _call(Digits="", SpeechResult="")))

    waiting = twiml(await signed_post(client, "/telephony/voice/wait", _call()))
    gather = waiting.find("Gather")
    assert gather is not None
    assert gather.get("action") == "/telephony/voice/callback"
    assert said(waiting)[-1] == "Para colgar y que te llamemos sin perder tu turno, pulsa 1."

    booked = twiml(await signed_post(client, "/telephony/voice/callback", _call(Digits="1")))
    assert booked.find("Hangup") is not None
    call, callback = await _interactions(world.tenant)
    assert call.state == InteractionState.ENDED
    assert call.disposition == "callback-requested"
    assert callback.channel == Channel.CALLBACK
    assert callback.state == InteractionState.QUEUED
    assert callback.queued_at == call.queued_at
    assert callback.priority == call.priority
    assert callback.self_service_context["number"] == CALLER
    assert callback.self_service_context["callback_for"] == str(call.id)


async def test_ticket_status_is_read_back_and_an_agent_offered(
    world: World, client: httpx.AsyncClient
) -> None:
    http = await world.tenant.client()
    customer = await http.post(
        world.tenant.url("/customers"),
        json={"display_name": "Lucía", "identities": [{"kind": "phone", "value": CALLER}]},
    )
    made = await http.post(
        world.tenant.url("/tickets"),
        json={"requester_id": customer.json()["id"], "subject": "Tarjeta bloqueada"},
    )
    assert made.status_code == 201, made.text
    number = made.json()["number"]

    prompt = twiml(await signed_post(client, "/telephony/voice/steer", _call(Digits="1")))
    assert (prompt.find("Gather") or prompt).get("action") == "/telephony/voice/ticket"
    status = twiml(await signed_post(client, "/telephony/voice/ticket", _call(Digits=f"{number}#")))
    assert said(status)[0] == f"El ticket {number} está recién abierto."
    unknown = twiml(await signed_post(client, "/telephony/voice/ticket", _call(Digits="99999")))
    assert said(unknown)[0] == "No hemos encontrado el ticket 99999."

    queued = twiml(
        await signed_post(client, f"/telephony/voice/agent?ticket={number}", _call(Digits="1"))
    )
    assert queued.find("Enqueue") is not None
    (call,) = [i for i in await _interactions(world.tenant) if i.channel == Channel.VOICE]
    assert call.self_service_context["self_service"] == "ticket_status"
    assert call.self_service_context["ticket"] == number
    assert call.self_service_context["status"] == "new"


async def test_after_hours_a_voicemail_becomes_one_ticket(
    world: World, client: httpx.AsyncClient
) -> None:
    async with world.db.tenant_session(world.tenant.id) as session:
        queue = await session.get(Queue, (world.tenant.id, world.queue.id))
        assert queue is not None
        queue.business_hours = {"mon": []}
        await session.commit()

    root = twiml(await signed_post(client, "/telephony/voice/incoming", _call()))
    assert said(root) == [
        "Ahora mismo estamos cerrados.",
        "Deja un mensaje después de la señal y te llamaremos.",
    ]
    record = root.find("Record")
    assert record is not None
    assert record.get("action") == "/telephony/voice/voicemail"
    recording = _call(
        RecordingSid="RE1",
        RecordingUrl="https://api.twilio.com/recordings/RE1",
        RecordingDuration="14",
    )
    for _ in range(2):
        saved = twiml(await signed_post(client, "/telephony/voice/voicemail", recording))
        assert said(saved) == ["Tu mensaje se ha guardado. Adiós."]
    async with world.db.tenant_session(world.tenant.id) as session:
        (ticket,) = (await session.execute(select(Ticket))).scalars().all()
    assert ticket.subject == f"Mensaje de voz de {CALLER}"
    assert ticket.channel == Channel.VOICE


async def test_the_api_never_shows_a_numbers_auth_token(world: World) -> None:
    http = await world.tenant.client()
    listed = await http.get(world.tenant.url("/channel-addresses"))
    (number,) = [a for a in listed.json() if a["channel"] == "voice"]
    assert number["settings"]["auth_token"] == "<set>"
    assert "1234567890" not in listed.text
    changed = await http.patch(
        world.tenant.url(f"/channel-addresses/{number['id']}"),
        json={"settings": {**number["settings"], "greeting": "hola"}},
    )
    assert changed.status_code == 200
    # The token kept working: sent back as shown, it was kept as it was.
    assert (await signed_post(http, "/telephony/voice/incoming", _call())).status_code == 200


async def test_the_call_leaves_the_queue_for_the_agent_who_accepts_it(
    world: World, client: httpx.AsyncClient
) -> None:
    agent = await world.agent(name="Marta")
    await world.start_router()
    enqueued = twiml(await signed_post(client, "/telephony/voice/steer", _call(Digits="2")))
    enqueue = enqueued.find("Enqueue")
    assert enqueue is not None
    assert enqueue.get("action") == "/telephony/voice/bridge"
    assert twiml(await signed_post(client, "/telephony/voice/wait", _call())).find("Leave") is None

    await world.step()
    (call,) = await _interactions(world.tenant)
    http = await agent_client(world, agent)
    accepted = await http.post(world.tenant.url(f"/interactions/{call.id}/accept"))
    assert accepted.is_success, accepted.text
    await http.aclose()

    assert (
        twiml(await signed_post(client, "/telephony/voice/wait", _call())).find("Leave") is not None
    )
    bridged = twiml(
        await signed_post(client, "/telephony/voice/bridge", _call(QueueResult="leave"))
    )
    dialled = bridged.find("Dial/Client")
    assert dialled is not None
    assert dialled.text == f"agent-{agent.id}"
    hung_up = twiml(
        await signed_post(client, "/telephony/voice/bridge", _call(QueueResult="hangup"))
    )
    assert hung_up.find("Hangup") is not None


async def test_a_numbers_new_token_counts_at_once_though_webhooks_keep_who_owns_it(
    world: World,
) -> None:
    http = await world.tenant.client()
    assert (await signed_post(http, "/telephony/voice/incoming", _call())).status_code == 200
    listed = await http.get(world.tenant.url("/channel-addresses"))
    (number,) = [a for a in listed.json() if a["channel"] == "voice"]
    new_token = "n" * 32

    changed = await http.patch(
        world.tenant.url(f"/channel-addresses/{number['id']}"),
        json={"settings": {**number["settings"], "auth_token": new_token}},
    )

    assert changed.status_code == 200
    old = await signed_post(http, "/telephony/voice/incoming", _call("CA2"))
    assert old.status_code == 403
    new = await signed_post(http, "/telephony/voice/incoming", _call("CA3"), token=new_token)
    assert new.status_code == 200
