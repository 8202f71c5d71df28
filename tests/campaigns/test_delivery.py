"""Automated voice messages, the provider's delivery reports, and campaigns that finish."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from centralita.campaigns.models import CampaignContact, ContactStatus
from centralita.channels.campaigns import MAX_ATTEMPTS
from centralita.channels.email.outbound import Relay
from centralita.channels.models import AddressChannel
from centralita.config import Settings
from centralita.events.models import EventRecord
from centralita.identity.permissions import Role
from tests.campaigns.conftest import (
    KeyedProvider,
    dispatcher,
    make_campaign,
    make_customer,
    results,
    start,
)
from tests.channels.email.conftest import Sink, add_mailbox, unique_address
from tests.channels.telephony import ACCOUNT_SID, add_number, new_number, signed_post
from tests.conftest import TenantFixture
from tests.web.helpers import make_user, post_login

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
VOICE_TEMPLATES = {
    "voice_msg": {
        "es": "Hola {name}, le recordamos su cita de mañana a las diez.",
        "en": "Hello {name}, this is a reminder of your appointment tomorrow at ten.",
    }
}


def soon() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


def callback_path(sent: dict[str, str]) -> str:
    """The status callback the provider was given, as a path on the test server."""
    parts = urlsplit(sent["StatusCallback"])
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver"
    return f"{parts.path}?{parts.query}"


def by_customer(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["customer_id"]: c for c in found["contacts"]}


async def test_an_automated_call_says_the_message_in_the_customers_language_and_reports_back(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider, client: httpx.AsyncClient
) -> None:
    number = new_number()
    await add_number(tenant_a, AddressChannel.VOICE, number)
    lucia = await make_customer(
        tenant_a, phone="+34600700001", consent_sms=True, preferred_channel="voice"
    )
    ann = await make_customer(
        tenant_a, phone="+34600700002", consent_sms=True, language="en", display_name="Ann"
    )
    busy = await make_customer(tenant_a, phone="+34600700003", consent_sms=True)
    # Said no to calls: an automated call is a call.
    no_calls = await make_customer(tenant_a, phone="+34600700004", consent_sms=True)
    admin = await tenant_a.client(Role.ADMIN)
    refused = await admin.put(
        tenant_a.url(f"/customers/{no_calls}/consents"),
        json={"channel": "voice", "granted": False},
    )
    assert refused.status_code == 200, refused.text
    campaign = await make_campaign(
        tenant_a,
        segment={},
        allowed_hours=ALWAYS,
        channels=["voice_msg"],
        templates=VOICE_TEMPLATES,
    )
    await start(tenant_a, campaign["id"])
    sender = dispatcher(tenant_a.db, keyed_provider, soon)

    await sender.step()
    await sender.step()  # a second pass sends nothing again

    calls = {m["To"]: m for m in keyed_provider.messages.values()}
    assert sorted(calls) == ["+34600700001", "+34600700002", "+34600700003"]
    assert len(keyed_provider.requests) == 3
    assert all(m["path"].endswith(f"/Accounts/{ACCOUNT_SID}/Calls.json") for m in calls.values())
    assert {m["From"] for m in calls.values()} == {number}
    spoken = {to: ET.fromstring(m["Twiml"]).find("Say") for to, m in calls.items()}  # noqa: S314
    assert spoken["+34600700001"] is not None
    assert spoken["+34600700001"].attrib["language"] == "es-ES"
    assert spoken["+34600700001"].text == "Hola Lucía, le recordamos su cita de mañana a las diez."
    assert spoken["+34600700002"] is not None
    assert spoken["+34600700002"].attrib["language"] == "en-US"
    assert spoken["+34600700002"].text == (
        "Hello Ann, this is a reminder of your appointment tomorrow at ten."
    )
    found = by_customer(await results(tenant_a, campaign["id"]))
    assert (found[no_calls]["status"], found[no_calls]["reason"]) == ("opted_out", "opted_out")
    assert {found[c]["status"] for c in (lucia, ann, busy)} == {"sent"}
    assert {found[c]["channel"] for c in (lucia, ann, busy)} == {"voice_msg"}

    # The provider says how each call ended, at the URL it was given.
    def ended(to: str, status: str) -> dict[str, str]:
        call = calls[to]
        return {
            "CallSid": call["sid"],
            "CallStatus": status,
            "AccountSid": ACCOUNT_SID,
            "From": number,
            "To": to,
            "Direction": "outbound-api",
        }

    for to, status in (
        ("+34600700001", "completed"),
        ("+34600700002", "no-answer"),
        ("+34600700003", "busy"),
        ("+34600700003", "busy"),  # a retried report changes nothing
    ):
        answer = await signed_post(client, callback_path(calls[to]), ended(to, status))
        assert answer.status_code == 204, answer.text
    forged = await client.post(
        callback_path(calls["+34600700002"]),
        data=ended("+34600700002", "completed"),
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    )
    assert forged.status_code == 403

    found = by_customer(await results(tenant_a, campaign["id"]))
    assert (found[lucia]["status"], found[lucia]["reason"]) == ("delivered", "answered")
    assert (found[ann]["status"], found[ann]["reason"]) == ("failed", "no_answer")
    assert (found[busy]["status"], found[busy]["reason"]) == ("failed", "busy")


async def test_delivery_reports_set_the_result_once_whatever_their_order(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider, client: httpx.AsyncClient
) -> None:
    number = new_number()
    await add_number(tenant_a, AddressChannel.SMS, number)
    reached = await make_customer(tenant_a, phone="+34600800001", consent_sms=True)
    unreachable = await make_customer(tenant_a, phone="+34600800002", consent_sms=True)
    campaign = await make_campaign(tenant_a, segment={}, allowed_hours=ALWAYS, channels=["sms"])
    await start(tenant_a, campaign["id"])
    await dispatcher(tenant_a.db, keyed_provider, soon).step()
    texts = {m["To"]: m for m in keyed_provider.messages.values()}

    def report(to: str, status: str, **more: str) -> dict[str, str]:
        text = texts[to]
        return {
            "MessageSid": text["sid"],
            "SmsSid": text["sid"],
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": ACCOUNT_SID,
            "From": number,
            "To": to,
            **more,
        }

    reports = [
        ("+34600800001", report("+34600800001", "sent")),
        ("+34600800001", report("+34600800001", "delivered")),
        ("+34600800001", report("+34600800001", "sent")),  # late: never undoes "delivered"
        ("+34600800002", report("+34600800002", "undelivered", ErrorCode="30003")),
        ("+34600800002", report("+34600800002", "delivered")),  # too late: it failed
    ]
    for to, params in reports:
        answer = await signed_post(client, callback_path(texts[to]), params)
        assert answer.status_code == 204, answer.text

    found = await results(tenant_a, campaign["id"])
    contacts = by_customer(found)
    assert contacts[reached]["status"] == "delivered"
    assert (contacts[unreachable]["status"], contacts[unreachable]["error"]) == (
        "failed",
        "undelivered (error 30003)",
    )
    assert (found["totals"]["delivered"], found["totals"]["failed"]) == (1, 1)

    # A report on a message we never sent, or that names a contact with another sid, is
    # acknowledged (the provider would retry for hours) and changes nothing.
    strange = report("+34600800001", "failed", ErrorCode="30005")
    strange["MessageSid"] = strange["SmsSid"] = "SM" + "9" * 32
    answer = await signed_post(client, callback_path(texts["+34600800001"]), strange)
    assert answer.status_code == 204
    unknown = await signed_post(
        client, "/telephony/sms/status", report("+34600800002", "failed", ErrorCode="30005")
    )
    assert unknown.status_code == 204
    assert by_customer(await results(tenant_a, campaign["id"])) == contacts


async def test_a_report_for_another_companys_contact_changes_nothing(
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    keyed_provider: KeyedProvider,
    client: httpx.AsyncClient,
) -> None:
    await add_number(tenant_a, AddressChannel.SMS, new_number())
    theirs = new_number()
    await add_number(tenant_b, AddressChannel.SMS, theirs)
    await make_customer(tenant_a, phone="+34600900001", consent_sms=True)
    campaign = await make_campaign(tenant_a, segment={}, allowed_hours=ALWAYS, channels=["sms"])
    await start(tenant_a, campaign["id"])
    await dispatcher(tenant_a.db, keyed_provider, soon).step()
    (text,) = keyed_provider.messages.values()

    # Signed with tenant B's number: B cannot touch A's contact even knowing its id.
    params = {
        "MessageSid": text["sid"],
        "MessageStatus": "failed",
        "AccountSid": ACCOUNT_SID,
        "From": theirs,
        "To": "+34600900001",
    }
    answer = await signed_post(client, callback_path(text), params)

    assert answer.status_code == 204
    (contact,) = (await results(tenant_a, campaign["id"]))["contacts"]
    assert contact["status"] == "sent"


async def test_a_campaign_finishes_once_every_contact_has_its_outcome(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider, client: httpx.AsyncClient
) -> None:
    await add_number(tenant_a, AddressChannel.SMS, new_number())
    await make_customer(tenant_a, phone="+34601000001", consent_sms=True)
    await make_customer(tenant_a, phone="+34601000002")  # no consent: skipped
    await make_customer(tenant_a, phone="+34601000003", consent_sms=True, time_zone="Asia/Tokyo")
    # Open only in the morning of the Madrid customer's day, so Tokyo's turn comes later.
    campaign = await make_campaign(
        tenant_a,
        segment={},
        allowed_hours={day: [["09:00", "12:00"]] for day in ALWAYS},
        channels=["sms"],
    )
    await start(tenant_a, campaign["id"])
    at = datetime.now(UTC).replace(hour=9, minute=30, second=0, microsecond=0) + timedelta(days=1)
    clock_at = [at]
    sender = dispatcher(tenant_a.db, keyed_provider, lambda: clock_at[0])
    admin = await tenant_a.client(Role.ADMIN)

    await sender.step()  # 09:30 UTC is 10:30 in Madrid, 18:30 in Tokyo

    assert keyed_provider.sent_to() == ["+34601000001"]
    running = (await admin.get(tenant_a.url(f"/campaigns/{campaign['id']}"))).json()
    assert (running["status"], running["finished_at"]) == ("running", None)

    clock_at[0] = at + timedelta(hours=15)  # 09:30 the next day in Tokyo
    await sender.step()

    assert sorted(keyed_provider.sent_to()) == ["+34601000001", "+34601000003"]
    finished = (await admin.get(tenant_a.url(f"/campaigns/{campaign['id']}"))).json()
    assert finished["status"] == "finished"
    assert datetime.fromisoformat(finished["finished_at"]) == clock_at[0]
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        events = (
            await session.execute(
                select(EventRecord).where(EventRecord.type == "campaign.finished")
            )
        ).scalars()
        (event,) = events.all()
        statuses = (await session.execute(select(CampaignContact.status))).scalars().all()
    assert event.data["campaign_id"] == campaign["id"]
    assert sorted(statuses) == [ContactStatus.SENT, ContactStatus.SENT, ContactStatus.SKIPPED]
    email = await make_user(tenant_a.app, tenant_a.db, [(tenant_a, Role.ADMIN)], name="Alba")
    assert (await post_login(client, email)).status_code == 303
    page = await client.get("/admin/campaigns", params={"tenant": tenant_a.slug, "lang": "en"})
    assert page.status_code == 200
    row = page.text[page.text.index(f'data-id="{campaign["id"]}"') :]
    assert re.match(
        r'[^<]*>\s*<td>Tarjeta nueva</td>\s*<td class="campaign-status">Finished <time', row
    )


async def test_a_campaign_email_the_relay_never_takes_fails_after_its_attempts(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider, sink: Sink, settings: Settings
) -> None:
    await add_mailbox(tenant_a, unique_address())
    await make_customer(tenant_a, email="olga@cliente.example", consent_email=True)
    relay = Relay.from_settings(
        settings.model_copy(update={"smtp_relay_host": "127.0.0.1", "smtp_relay_port": sink.port})
    )
    campaign = await make_campaign(
        tenant_a,
        segment={},
        allowed_hours=ALWAYS,
        channels=["email"],
        templates={"email": {"es": "Hola {name}, su tarjeta está lista."}},
    )
    await start(tenant_a, campaign["id"])
    sink.refuse = True
    at = [soon()]
    sender = dispatcher(tenant_a.db, keyed_provider, lambda: at[0], relay=relay)
    seen = []
    for _ in range(8):
        await sender.step()
        (contact,) = (await results(tenant_a, campaign["id"]))["contacts"]
        seen.append((contact["status"], contact["attempts"]))
        if contact["status"] == "failed":
            break
        # Just before the next try is due nothing happens; then it is taken again.
        async with tenant_a.db.tenant_session(tenant_a.id) as session:
            due = (await session.execute(select(CampaignContact.due_at))).scalar_one()
        at[0] = due - timedelta(seconds=1)
        assert await sender.step() == 0
        at[0] = due

    assert seen == [("sending", n) for n in range(1, MAX_ATTEMPTS)] + [("failed", MAX_ATTEMPTS)]
    assert sink.received == []
    assert "451" in contact["error"]
    finished = await results(tenant_a, campaign["id"])
    assert finished["campaign"]["status"] == "finished"
    assert finished["totals"]["failed"] == 1
