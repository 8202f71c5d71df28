"""Campaign dispatch: channels by preference and consent, allowed hours, caps, pacing, callbacks,
and no duplicate after a dispatcher dies mid-batch."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from centralita.callbacks.models import Callback, CallbackSource
from centralita.campaigns.models import CampaignContact, ContactStatus
from centralita.campaigns.service import LEASE
from centralita.channels.campaigns import pooled_provider
from centralita.channels.models import AddressChannel
from centralita.identity.permissions import Role
from tests.campaigns.conftest import (
    KeyedProvider,
    dispatcher,
    make_campaign,
    make_customer,
    results,
    start,
)
from tests.channels.telephony import ACCOUNT_SID, add_number, new_number
from tests.conftest import TenantFixture

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def fixed(at: datetime) -> Clock:
    return Clock(at)


def now_plus(seconds: float = 1) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_each_customer_is_reached_on_the_preferred_channel_they_consented_to(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider
) -> None:
    number = new_number()
    await add_number(tenant_a, AddressChannel.SMS, number)
    by_sms = await make_customer(
        tenant_a,
        phone="+34600100001",
        consent_sms=True,
        preferred_channel="sms",
        display_name="Lucía Pérez",
        preferred_name="Lucía",
    )
    # Prefers email but agreed only to SMS: reached by SMS, in English.
    fallback = await make_customer(
        tenant_a,
        phone="+34600100002",
        email="ana@cliente.example",
        consent_sms=True,
        preferred_channel="email",
        language="en",
        display_name="Ann",
    )
    never_agreed = await make_customer(tenant_a, phone="+34600100003")
    no_phone = await make_customer(tenant_a, email="sin-movil@cliente.example", consent_email=True)
    campaign = await make_campaign(tenant_a, segment={}, allowed_hours=ALWAYS, channels=["sms"])

    await start(tenant_a, campaign["id"])
    await dispatcher(tenant_a.db, keyed_provider, fixed(now_plus())).step()

    assert sorted((m["To"], m["Body"], m["From"]) for m in keyed_provider.messages.values()) == [
        ("+34600100001", "Hola Lucía, su tarjeta nueva está lista.", number),
        ("+34600100002", "Hi Ann, your new card is ready.", number),
    ]
    assert {r["user"] for r in keyed_provider.requests} == {ACCOUNT_SID}
    found = await results(tenant_a, campaign["id"])
    by_customer = {c["customer_id"]: c for c in found["contacts"]}
    assert by_customer[by_sms]["status"] == "sent"
    assert by_customer[fallback]["status"] == "sent"
    assert by_customer[fallback]["channel"] == "sms"
    assert (by_customer[never_agreed]["status"], by_customer[never_agreed]["reason"]) == (
        "skipped",
        "no_consent",
    )
    assert (by_customer[no_phone]["status"], by_customer[no_phone]["reason"]) == (
        "skipped",
        "no_address",
    )
    assert found["totals"]["sent"] == 2
    assert found["totals"]["skipped"] == 2
    assert found["skipped_by_reason"] == {"no_consent": 1, "no_address": 1}


async def test_a_send_outside_the_customers_hours_waits_until_they_open(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider
) -> None:
    await add_number(tenant_a, AddressChannel.SMS, new_number())
    # Bogotá has no daylight saving time: 12:00 UTC is 07:00 there, 13:00 in Madrid.
    await make_customer(
        tenant_a, phone="+573001234567", consent_sms=True, time_zone="America/Bogota"
    )
    await make_customer(tenant_a, phone="+34600200002", consent_sms=True)
    hours = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    campaign = await make_campaign(
        tenant_a, segment={}, allowed_hours=hours, quiet_hours=["13:30", "14:00"]
    )
    await start(tenant_a, campaign["id"])
    monday_noon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    monday_noon = monday_noon - timedelta(days=monday_noon.weekday())
    monday_noon = monday_noon.replace(hour=12, minute=0, second=0)
    clock = Clock(monday_noon)
    sender = dispatcher(tenant_a.db, keyed_provider, clock)

    await sender.step()
    assert keyed_provider.sent_to() == ["+34600200002"]  # Madrid is open; Bogotá sleeps
    clock.at = monday_noon + timedelta(hours=1, minutes=59)
    await sender.step()
    assert keyed_provider.sent_to() == ["+34600200002"]
    clock.at = monday_noon + timedelta(hours=2)  # 09:00 in Bogotá
    await sender.step()

    assert sorted(keyed_provider.sent_to()) == ["+34600200002", "+573001234567"]
    found = await results(tenant_a, campaign["id"])
    bogota = next(c for c in found["contacts"] if c["to_address"] == "+573001234567")
    assert datetime.fromisoformat(bogota["sent_at"]) == monday_noon + timedelta(hours=2)


async def test_the_frequency_cap_skips_a_customer_reached_too_often(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider
) -> None:
    await add_number(tenant_a, AddressChannel.SMS, new_number())
    customer = await make_customer(tenant_a, phone="+34600300003", consent_sms=True, segment="vip")
    # Later than every campaign's start below: each one's contacts are due.
    when = now_plus(60)
    outcomes = []
    for offset_days in (0, 1, 2, 9):
        campaign = await make_campaign(
            tenant_a,
            segment={"segment": "vip"},
            allowed_hours=ALWAYS,
            frequency_cap=2,
            frequency_days=7,
        )
        await start(tenant_a, campaign["id"])
        await dispatcher(
            tenant_a.db, keyed_provider, fixed(when + timedelta(days=offset_days))
        ).step()
        (contact,) = (await results(tenant_a, campaign["id"]))["contacts"]
        assert contact["customer_id"] == customer
        outcomes.append((contact["status"], contact["reason"]))

    # Two within seven days, the third skipped; a week later there is room again.
    assert outcomes == [
        ("sent", None),
        ("sent", None),
        ("skipped", "frequency_cap"),
        ("sent", None),
    ]
    assert len(keyed_provider.messages) == 3


async def test_pacing_sends_so_many_per_minute(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider
) -> None:
    await add_number(tenant_a, AddressChannel.SMS, new_number())
    for n in range(5):
        await make_customer(tenant_a, phone=f"+3460040000{n}", consent_sms=True)
    campaign = await make_campaign(tenant_a, segment={}, allowed_hours=ALWAYS, pace_per_minute=2)
    await start(tenant_a, campaign["id"])
    began = now_plus(60)
    clock = Clock(began)
    sender = dispatcher(tenant_a.db, keyed_provider, clock)
    sent = []
    for seconds in (0, 10, 30, 60, 70, 120):
        clock.at = began + timedelta(seconds=seconds)
        await sender.step()
        sent.append(len(keyed_provider.messages))

    assert sent == [2, 2, 2, 4, 4, 5]


async def test_an_agent_call_campaign_creates_callbacks_for_the_queue(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider
) -> None:
    customer = await make_customer(
        tenant_a, phone="+34600500005", consent_sms=True, preferred_channel="voice"
    )
    campaign = await make_campaign(
        tenant_a,
        segment={},
        allowed_hours=ALWAYS,
        channels=["voice"],
        voice_queue="ventas",
        templates={"voice": {"es": "Ofrezca a {name} la tarjeta nueva."}},
    )
    await start(tenant_a, campaign["id"])
    await dispatcher(tenant_a.db, keyed_provider, fixed(now_plus())).step()

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        (callback,) = (await session.execute(select(Callback))).scalars().all()
    assert str(callback.customer_id) == customer
    assert callback.source == CallbackSource.CAMPAIGN
    assert callback.queue == "ventas"
    assert callback.phone == "+34600500005"
    assert callback.context["script"] == "Ofrezca a Lucía la tarjeta nueva."
    (contact,) = (await results(tenant_a, campaign["id"]))["contacts"]
    assert (contact["status"], contact["channel"]) == ("sent", "voice")
    assert keyed_provider.messages == {}


async def test_a_dispatcher_killed_mid_batch_leaves_no_duplicate_at_the_provider(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider
) -> None:
    await add_number(tenant_a, AddressChannel.SMS, new_number())
    phones = [f"+346006{n:05d}" for n in range(40)]
    for phone in phones:
        await make_customer(tenant_a, phone=phone, consent_sms=True)
    campaign = await make_campaign(tenant_a, segment={}, allowed_hours=ALWAYS)
    await start(tenant_a, campaign["id"])
    keyed_provider.delay_s = 0.05
    when = now_plus()

    async with pooled_provider(keyed_provider.url) as pooled:
        doomed = asyncio.create_task(
            dispatcher(tenant_a.db, keyed_provider, fixed(when), messages=pooled).step()
        )
        while len(keyed_provider.requests) < 10:  # noqa: ASYNC110 - the provider is a thread
            await asyncio.sleep(0.01)
        doomed.cancel()  # dies after sending some, before recording any
        await asyncio.gather(doomed, return_exceptions=True)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        statuses = (await session.execute(select(CampaignContact.status))).scalars().all()
    assert set(statuses) == {ContactStatus.SENDING}
    keyed_provider.delay_s = 0
    # Before the lease lapses nothing is taken again; after it, the rest go, once each.
    survivor = dispatcher(tenant_a.db, keyed_provider, fixed(when + timedelta(seconds=5)))
    assert await survivor.step() == 0
    survivor.clock = fixed(when + LEASE + timedelta(seconds=1))
    while await survivor.step():
        pass

    assert sorted(keyed_provider.sent_to()) == phones
    assert len(keyed_provider.requests) > len(keyed_provider.messages)  # repeats were recognised
    found = await results(tenant_a, campaign["id"])
    assert found["totals"]["sent"] == 40
    assert found["totals"]["sending"] == 0


async def test_bad_requests_are_problems(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)
    bad = await http.post(
        tenant_a.url("/campaigns"),
        json={"name": "x", "templates": {"sms": {"es": ""}}, "allowed_hours": {"lun": []}},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert {e["pointer"] for e in bad.json()["errors"]} >= {
        "#/templates",
        "#/allowed_hours",
    }
    empty = await make_campaign(tenant_a)
    refused = await http.post(tenant_a.url(f"/campaigns/{empty['id']}/start"))
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    not_running = await http.post(tenant_a.url(f"/campaigns/{empty['id']}/pause"))
    assert not_running.status_code == 409
    segment = await make_campaign(tenant_a, segment={"segment": "vip"})
    no_csv = await http.post(
        tenant_a.url(f"/campaigns/{segment['id']}/targets"),
        content=b"phone\n+34600000000\n",
        headers={"Content-Type": "text/csv"},
    )
    assert no_csv.status_code == 409
