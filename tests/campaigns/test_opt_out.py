"""Opt-outs: STOP by SMS and the email unsubscribe link (RFC 8058 one-click), honoured at once."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from centralita.campaigns.models import ContactConsent
from centralita.channels.email.outbound import Relay
from centralita.channels.models import AddressChannel
from centralita.config import Settings
from centralita.customers.models import Customer
from centralita.events.models import AuditEntry
from centralita.identity.permissions import Role
from tests.campaigns.conftest import (
    KeyedProvider,
    dispatcher,
    make_campaign,
    make_customer,
    results,
    start,
)
from tests.campaigns.test_dispatch import ALWAYS, fixed
from tests.channels.email.conftest import Sink, add_mailbox, unique_address
from tests.channels.telephony import ACCOUNT_SID, add_number, new_number, signed_post, twiml
from tests.conftest import TenantFixture


async def _text(
    client: httpx.AsyncClient, number: str, sender: str, body: str, sid: str
) -> list[str]:
    answer = await signed_post(
        client,
        "/telephony/sms/incoming",
        {"From": sender, "To": number, "AccountSid": ACCOUNT_SID, "MessageSid": sid, "Body": body},
    )
    return [element.text or "" for element in twiml(answer).iter("Message")]


async def _campaign_outcome(
    tenant: TenantFixture, provider: KeyedProvider, **fields: object
) -> dict[str, object]:
    campaign = await make_campaign(tenant, segment={}, allowed_hours=ALWAYS, **fields)
    await start(tenant, campaign["id"])
    await dispatcher(tenant.db, provider, fixed(datetime.now(UTC) + timedelta(minutes=1))).step()
    (contact,) = (await results(tenant, campaign["id"]))["contacts"]
    outcome: dict[str, object] = contact
    return outcome


async def test_stop_by_sms_opts_out_at_once_and_alta_opts_back_in(
    tenant_a: TenantFixture, client: httpx.AsyncClient, keyed_provider: KeyedProvider
) -> None:
    number = new_number()
    await add_number(tenant_a, AddressChannel.SMS, number)
    customer = await make_customer(tenant_a, phone="+34600800001", consent_sms=True)

    replies = await _text(client, number, "+34600800001", " Baja ", "SM-stop-1")

    assert replies == [
        "Has sido dado de baja y no recibirás más mensajes de Tenant A. Responde ALTA para "
        "volver a recibirlos."
    ]
    http = await tenant_a.client(Role.ADMIN)
    (consent,) = (await http.get(tenant_a.url(f"/customers/{customer}/consents"))).json()
    assert (consent["channel"], consent["granted"], consent["source"]) == (
        "sms",
        False,
        "sms_keyword",
    )
    assert consent["detail"] == "Baja"
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        profile = (await session.execute(select(Customer))).scalar_one()
        audit = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.action == "consent.withdrawn")
            )
        ).scalar_one()
    assert profile.consent_sms is False  # every other sender of the platform stops too
    assert audit.entity_id == customer

    stopped = await _campaign_outcome(tenant_a, keyed_provider)
    assert (stopped["status"], stopped["reason"]) == ("opted_out", "opted_out")
    assert keyed_provider.messages == {}

    back = await _text(client, number, "+34600800001", "ALTA", "SM-start-1")
    assert back == [
        "Vuelves a recibir mensajes de Tenant A. Responde BAJA para dejar de recibirlos."
    ]
    again = await _campaign_outcome(tenant_a, keyed_provider)
    assert again["status"] == "sent"
    assert keyed_provider.sent_to() == ["+34600800001"]


async def test_stop_from_an_unknown_number_is_recorded_for_a_new_customer(
    tenant_a: TenantFixture, client: httpx.AsyncClient
) -> None:
    number = new_number()
    await add_number(tenant_a, AddressChannel.SMS, number)

    assert len(await _text(client, number, "+34600800009", "STOP", "SM-stop-9")) == 1

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        (row,) = (await session.execute(select(ContactConsent))).scalars().all()
    assert (row.channel, row.granted) == ("sms", False)


async def test_an_email_carries_an_unsubscribe_link_honoured_by_one_click(
    tenant_a: TenantFixture,
    client: httpx.AsyncClient,
    keyed_provider: KeyedProvider,
    sink: Sink,
    settings: Settings,
) -> None:
    await add_mailbox(tenant_a, unique_address())
    customer = await make_customer(
        tenant_a, email="marta@cliente.example", consent_email=True, display_name="Marta"
    )
    relay = Relay.from_settings(
        settings.model_copy(update={"smtp_relay_host": "127.0.0.1", "smtp_relay_port": sink.port})
    )
    campaign = await make_campaign(
        tenant_a,
        segment={},
        allowed_hours=ALWAYS,
        channels=["email"],
        templates={"email": {"es": "Hola {name}, ya puede recoger su tarjeta."}},
        subjects={"es": "Su tarjeta, {name}"},
    )
    await start(tenant_a, campaign["id"])
    when = datetime.now(UTC) + timedelta(minutes=1)
    await dispatcher(tenant_a.db, keyed_provider, fixed(when), relay=relay).step()

    ((envelope, mail),) = sink.received
    assert envelope.rcpt_tos == ["marta@cliente.example"]
    assert mail["Subject"] == "Su tarjeta, Marta"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip("<>")
    assert link.startswith(f"http://testserver/u/{tenant_a.slug}/")
    text = mail.get_body(("plain",))
    assert text is not None
    assert link in text.get_content()
    assert "Hola Marta, ya puede recoger su tarjeta." in text.get_content()
    (contact,) = (await results(tenant_a, campaign["id"]))["contacts"]
    assert contact["status"] == "sent"

    path = link.removeprefix("http://testserver")
    page = await client.get(path)
    assert page.status_code == 200
    assert "¿Quiere dejar de recibir estos mensajes por correo electrónico?" in page.text
    assert "Darme de baja" in page.text
    http = await tenant_a.client(Role.ADMIN)
    assert (await http.get(tenant_a.url(f"/customers/{customer}/consents"))).json() == []
    forged = await client.post(path[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"})
    assert forged.status_code == 404
    elsewhere = await client.post(
        path.replace(f"/u/{tenant_a.slug}/", "/u/otra-empresa/"),
        data={"List-Unsubscribe": "One-Click"},
    )
    assert elsewhere.status_code == 404

    done = await client.post(path, data={"List-Unsubscribe": "One-Click"})

    assert done.status_code == 200
    assert "Se ha dado de baja" in done.text
    (consent,) = (await http.get(tenant_a.url(f"/customers/{customer}/consents"))).json()
    assert (consent["channel"], consent["granted"], consent["source"]) == (
        "email",
        False,
        "one_click",
    )
    later = await _campaign_outcome(
        tenant_a, keyed_provider, channels=["email"], templates={"email": {"es": "Otra vez"}}
    )
    assert later["status"] == "opted_out"
    assert len(sink.received) == 1
