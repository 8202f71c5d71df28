"""The help centre as a visitor's browser sees it (HTML over HTTP): search, read, vote, contact,
status lookup and callback requests."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from centralita.interactions.models import Channel, Interaction, Message
from centralita.knowledge.models import Article, EventKind, KnowledgeEvent
from centralita.tickets.models import Ticket
from tests.channels.chat.conftest import add_widget
from tests.conftest import TenantFixture
from tests.knowledge.helpers import write

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


async def _token(http: httpx.AsyncClient, url: str) -> str:
    page = await http.get(url)
    assert page.status_code == 200, page.text
    match = TOKEN.search(page.text)
    assert match
    return match.group(1)


async def test_public_articles_are_found_without_accents_and_internal_ones_never(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    admin = await tenant_a.client()
    await write(admin, tenant_a, title="Facturación electrónica", body_markdown="Tu factura.")
    await write(admin, tenant_a, title="Facturación interna", visibility="internal")
    await write(admin, tenant_a, title="Borrador de facturación", publish=False)

    page = await client.get(f"/help/{tenant_a.slug}", params={"q": "facturacion", "lang": "es"})
    typing = await client.get(f"/help/{tenant_a.slug}/search", params={"q": "factu", "lang": "es"})

    assert page.status_code == 200
    assert "Facturación electrónica" in page.text
    assert "<mark>Facturación</mark>" in page.text or "<mark>factura</mark>" in page.text
    assert "interna" not in page.text
    assert "Borrador" not in page.text
    assert "Facturación electrónica" in typing.text
    assert "<html" not in typing.text


async def test_the_chat_launcher_is_on_the_portal_of_a_tenant_with_a_chat_widget_only(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await add_widget(tenant_a, queue=None)

    with_chat = await client.get(f"/help/{tenant_a.slug}")
    without = await client.get(f"/help/{tenant_b.slug}")

    assert f'<script src="/chat/{tenant_a.slug}/widget.js" defer></script>' in with_chat.text
    assert "widget.js" not in without.text


async def test_the_portal_of_an_unknown_tenant_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/help/no-such-tenant")

    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


async def test_reading_and_voting_teach_the_ranking(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    admin = await tenant_a.client()
    article = await write(admin, tenant_a, title="Cambiar el PIN", body_markdown="En el cajero.")
    url = f"/help/{tenant_a.slug}/articles/{article['id']}"

    token = await _token(client, f"{url}?q=pin")
    voted = await client.post(f"{url}/vote", data={"helpful": "yes", "form_token": token})
    forged = await client.post(f"{url}/vote", data={"helpful": "yes", "form_token": "x" * 64})

    assert voted.status_code == 303
    assert (await client.get(voted.headers["location"])).status_code == 200
    assert forged.status_code == 403
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        kinds = sorted((await session.execute(select(KnowledgeEvent.kind))).scalars())
        stored = (await session.execute(select(Article))).scalar_one()
    assert kinds == [EventKind.CLICK, EventKind.HELPFUL, EventKind.VIEW]
    assert (stored.views, stored.helpful_votes) == (1, 1)


async def test_internal_articles_are_not_served_to_visitors(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    admin = await tenant_a.client()
    article = await write(admin, tenant_a, title="Solo agentes", visibility="internal")

    response = await client.get(f"/help/{tenant_a.slug}/articles/{article['id']}")

    assert response.status_code == 404


async def test_the_contact_form_opens_a_ticket(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    url = f"/help/{tenant_a.slug}/contact"
    token = await _token(client, url)

    bad = await client.post(
        url,
        data={"email": "not-an-email", "subject": "Hola", "message": "Ayuda", "form_token": token},
    )
    sent = await client.post(
        url,
        data={
            "email": "Ana@Example.com",
            "subject": "Cargo duplicado",
            "message": "Me cobraron dos veces",
            "name": "Ana",
            "form_token": token,
        },
    )

    assert bad.status_code == 422
    assert sent.status_code == 201
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        tickets = (await session.execute(select(Ticket))).scalars().all()
        said = (
            await session.execute(
                select(Message.text)
                .join(Interaction, Interaction.id == Message.interaction_id)
                .where(Interaction.ticket_id == tickets[0].id)
            )
        ).scalars()
        # The agent who takes the ticket's work reads what the customer wrote.
        assert list(said) == ["Me cobraron dos veces"]
    assert [(t.subject, t.channel) for t in tickets] == [("Cargo duplicado", "web")]
    assert f"-{tickets[0].number}" in sent.text


async def test_a_status_lookup_reveals_nothing_about_who_has_tickets(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    contact = f"/help/{tenant_a.slug}/contact"
    token = await _token(client, contact)
    await client.post(
        contact,
        data={
            "email": "ana@example.com",
            "subject": "Mi pedido",
            "message": "No llega",
            "form_token": token,
        },
    )
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        number = (await session.execute(select(Ticket.number))).scalar_one()
    url = f"/help/{tenant_a.slug}/status"

    async def look(number: str, email: str) -> httpx.Response:
        return await client.post(
            url, data={"number": number, "email": email, "form_token": token, "lang": "es"}
        )

    found = await look(str(number), "ANA@example.com")
    wrong_email = await look(str(number), "eva@example.com")
    wrong_number = await look(str(number + 100), "ana@example.com")
    await look("1", "x@example.com")
    await look("1", "x@example.com")
    limited = await look(str(number), "ana@example.com")

    assert "Mi pedido" in found.text
    assert wrong_email.status_code == wrong_number.status_code == 200
    assert _answer(wrong_email.text) == _answer(wrong_number.text)
    assert "Mi pedido" not in wrong_email.text
    assert limited.status_code == 429
    assert "Mi pedido" not in limited.text


def _answer(html: str) -> str:
    return re.sub(r'name="form_token" value="[^"]+"', "", html)


async def _calendar(tenant: TenantFixture) -> None:
    admin = await tenant.client()
    response = await admin.post(
        tenant.url("/business-calendars"),
        json={
            "name": "Oficina",
            "weekly_hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            "public_holidays": False,
        },
    )
    assert response.status_code == 201, response.text


def _next_weekday_at(hour: int, time_zone: str) -> str:
    day = datetime.now(ZoneInfo(time_zone)).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return f"{day.isoformat()}T{hour:02d}:00"


async def test_a_callback_is_booked_only_within_business_hours(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await _calendar(tenant_a)
    url = f"/help/{tenant_a.slug}/callback"
    token = await _token(client, url)
    zone = tenant_a.tenant.time_zone

    closed = await client.post(
        url,
        data={"phone": "+34 600 111 222", "form_token": token, "when": _next_weekday_at(22, zone)},
    )
    bad_phone = await client.post(
        url, data={"phone": "abc", "form_token": token, "when": _next_weekday_at(10, zone)}
    )
    booked = await client.post(
        url,
        data={
            "phone": "+34 600 111 222",
            "form_token": token,
            "when": _next_weekday_at(10, zone),
            "name": "Luis",
        },
    )

    assert closed.status_code == 422
    assert bad_phone.status_code == 422
    assert booked.status_code == 201, booked.text
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        calls = (await session.execute(select(Interaction))).scalars().all()
    assert [c.channel for c in calls] == [Channel.CALLBACK]
    requested = datetime.fromisoformat(calls[0].self_service_context["callback"]["requested_at"])
    assert requested.astimezone(ZoneInfo(zone)).hour == 10
    assert calls[0].self_service_context["callback"]["phone"] == "+34600111222"
