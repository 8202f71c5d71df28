"""SMS in through signed webhooks into one conversation; agents' replies out by REST."""

import uuid

import httpx
from sqlalchemy import select

from centralita.channels.models import AddressChannel
from centralita.channels.outbound import delivery_handlers
from centralita.channels.sms.sender import sms_sender
from centralita.channels.voice.provider import Provider, ProviderError
from centralita.db.base import utcnow
from centralita.interactions.models import Channel, Interaction, Message
from centralita.jobs.models import Job, JobKind
from tests.channels.telephony import (
    ACCOUNT_SID,
    FakeProvider,
    add_number,
    new_number,
    signed_post,
    twiml,
)
from tests.conftest import TenantFixture

CUSTOMER = "+34612345678"


async def test_texts_become_one_conversation_and_replies_go_out_by_rest(
    tenant_a: TenantFixture, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    number = new_number()
    await add_number(tenant_a, AddressChannel.SMS, number, "general")
    text = {"From": CUSTOMER, "To": number, "AccountSid": ACCOUNT_SID}

    first = await signed_post(
        client, "/telephony/sms/incoming", {**text, "MessageSid": "SM1", "Body": "Hola"}
    )
    retried = await signed_post(
        client, "/telephony/sms/incoming", {**text, "MessageSid": "SM1", "Body": "Hola"}
    )
    second = await signed_post(
        client, "/telephony/sms/incoming", {**text, "MessageSid": "SM2", "Body": "¿Abrís hoy?"}
    )
    forged = await client.post(
        "/telephony/sms/incoming",
        data={**text, "MessageSid": "SM3", "Body": "x"},
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    )

    for answer in (first, retried, second):
        assert len(twiml(answer)) == 0
    assert forged.status_code == 403
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        (conversation,) = (await session.execute(select(Interaction))).scalars().all()
        texts = (await session.execute(select(Message.text).order_by(Message.created_at))).all()
    assert conversation.channel == Channel.SMS
    assert conversation.queue == "general"
    assert [t for (t,) in texts] == ["Hola", "¿Abrís hoy?"]

    http = await tenant_a.client()
    reply = await http.post(
        tenant_a.url(f"/interactions/{conversation.id}/messages"),
        json={"author_kind": "agent", "text": "Sí, hasta las 20:00"},
    )
    assert reply.status_code == 201, reply.text
    (deliver,) = delivery_handlers({Channel.SMS: sms_sender(Provider(provider.url))}).values()
    async with tenant_a.db.system_session() as session:
        job = (
            await session.execute(
                # Other tests' replies may wait in the same table.
                select(Job).where(
                    Job.kind == JobKind.CHANNEL_DELIVERY,
                    Job.ref_id == uuid.UUID(reply.json()["id"]),
                )
            )
        ).scalar_one()
        provider.fail_next = 1
        try:
            await deliver(session, job, utcnow())
        except ProviderError:
            pass
        else:
            raise AssertionError("a refused send must raise, so the job is retried")
        await deliver(session, job, utcnow())
    sent = provider.requests[-1]
    assert sent["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent["form"] == {"To": CUSTOMER, "From": number, "Body": "Sí, hasta las 20:00"}
    assert sent["key"] == reply.json()["id"]
    assert provider.requests[0]["key"] == sent["key"]
