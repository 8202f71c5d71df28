"""The rules, surveys and webhooks sections of the administration (httpx): what each lists, the
rule's execution log, the webhook's delivery log, and who may open them."""

import re

import httpx
import pytest

from centralita.config import Settings
from centralita.db.base import new_id, utcnow
from centralita.identity.permissions import Role
from centralita.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from tests.conftest import TenantFixture
from tests.web.helpers import make_user, post_login

XSS = "<img src=x onerror=alert(1)>"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
RULE = {
    "name": XSS,
    "trigger": "interaction.abandoned",
    "conditions": [{"field": "customer.value_tier", "op": "in", "value": ["gold", "platinum"]}],
    "actions": [{"type": "set_priority", "priority": 8}],
    "position": 7,
}


async def _sign_in(
    tenant: TenantFixture, client: httpx.AsyncClient, role: Role = Role.ADMIN
) -> None:
    email = await make_user(tenant.app, tenant.db, [(tenant, role)], name="Alba Admin")
    client.cookies.clear()
    assert (await post_login(client, email)).status_code == 303


async def _webhook(tenant: TenantFixture, settings: Settings) -> WebhookSubscription:
    """A subscription with one failed and one pending delivery (as the dispatcher leaves them)."""
    async with tenant.db.tenant_session(tenant.id) as session:
        subscription = WebhookSubscription(
            id=new_id(),
            url="https://93.184.215.14/hooks",
            description=XSS,
            event_types=["survey.answered"],
            secret="whsec_dGhpcyBpcyB0aGUgc2VjcmV0IGJ5dGVz",
        )
        session.add(subscription)
        await session.flush()
        for status, code in ((DeliveryStatus.FAILED, 410), (DeliveryStatus.PENDING, 503)):
            session.add(
                WebhookDelivery(
                    id=new_id(),
                    subscription_id=subscription.id,
                    event_id=new_id(),
                    event_type="survey.answered",
                    payload={"id": "x", "type": "survey.answered", "data": {}},
                    status=status,
                    attempts=3,
                    next_attempt_at=utcnow() if status == DeliveryStatus.PENDING else None,
                    last_attempt_at=utcnow(),
                    last_status_code=code,
                )
            )
        await session.commit()
    return subscription


@pytest.mark.parametrize(
    ("path", "spanish", "english"),
    [
        ("/admin/rules", "Nueva regla", "New rule"),
        ("/admin/surveys", "Nueva encuesta", "New survey"),
        ("/admin/webhooks", "Nuevo webhook", "New webhook"),
    ],
)
async def test_each_section_renders_in_both_languages_without_inline_code(
    tenant_a: TenantFixture, client: httpx.AsyncClient, path: str, spanish: str, english: str
) -> None:
    await _sign_in(tenant_a, client)

    es = await client.get(f"{path}?tenant={tenant_a.slug}&lang=es")
    en = await client.get(f"{path}?tenant={tenant_a.slug}&lang=en")

    assert es.status_code == 200, es.text
    assert spanish in es.text
    assert english in en.text
    assert 'src="/static/js/forms.js"' in es.text
    assert f'href="{path}?tenant={tenant_a.slug}" aria-current="page"' in es.text
    assert INLINE_SCRIPT.search(es.text) is None


async def test_the_old_section_address_leads_to_the_section_page(
    tenant_a: TenantFixture, client: httpx.AsyncClient
) -> None:
    await _sign_in(tenant_a, client)
    answer = await client.get(f"/admin?tenant={tenant_a.slug}&section=webhooks")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/admin/webhooks?tenant={tenant_a.slug}"


async def test_rules_are_listed_in_evaluation_order_with_their_execution_log(
    tenant_a: TenantFixture, client: httpx.AsyncClient
) -> None:
    http = await tenant_a.client()
    created = await http.post(tenant_a.url("/rules"), json=RULE)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    await _sign_in(tenant_a, client)

    listing = await client.get(f"/admin/rules?tenant={tenant_a.slug}&lang=en")
    opened = await client.get(f"/admin/rules?tenant={tenant_a.slug}&rule={rule_id}&lang=en")

    assert XSS not in listing.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in listing.text
    # The tenant's default rules are there from the first look, each with its switch.
    assert "(default)" in listing.text
    triggers = re.findall(r"<td class=\"rule-trigger\"><code>([a-z_.]+)</code></td>", listing.text)
    assert triggers == sorted(triggers)
    assert f'data-api="/api/v1/tenants/{tenant_a.slug}/rules/{rule_id}" data-method="PATCH"' in (
        listing.text
    )
    assert "This rule has not fired yet." in opened.text
    assert "&#34;priority&#34;: 8" in opened.text or "&quot;priority&quot;: 8" in opened.text
    assert f"/rules/{rule_id}/dry-run" in opened.text


async def test_the_webhook_log_shows_statuses_and_replays_but_never_the_secret(
    tenant_a: TenantFixture, client: httpx.AsyncClient, settings: Settings
) -> None:
    subscription = await _webhook(tenant_a, settings)
    await _sign_in(tenant_a, client)

    page = await client.get(
        f"/admin/webhooks?tenant={tenant_a.slug}&webhook={subscription.id}&lang=es"
    )

    assert page.status_code == 200, page.text
    assert subscription.secret not in page.text
    assert XSS not in page.text
    assert "Fallido" in page.text
    assert "En envío" in page.text
    assert "HTTP 410" in page.text
    # Only the finished delivery can be replayed; the pending one is still being attempted.
    assert page.text.count("/replay") == 1


async def test_surveys_list_and_open_for_editing(
    tenant_a: TenantFixture, client: httpx.AsyncClient
) -> None:
    http = await tenant_a.client()
    created = await http.post(
        tenant_a.url("/surveys"),
        json={"name": XSS, "ask_nps": True, "sampling_percent": 40, "low_nps": 5},
    )
    assert created.status_code == 201, created.text
    survey_id = created.json()["id"]
    await _sign_in(tenant_a, client)

    opened = await client.get(f"/admin/surveys?tenant={tenant_a.slug}&survey={survey_id}&lang=en")

    assert XSS not in opened.text
    assert "CSAT 2 · NPS 5" in opened.text
    assert f'data-api="/api/v1/tenants/{tenant_a.slug}/surveys/{survey_id}" data-method="PUT"' in (
        opened.text
    )
    assert 'name="sampling_percent" data-type="int" inputmode="numeric" value="40"' in opened.text


async def test_only_administrators_of_the_company_open_the_sections(
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    foreign_hook = await _webhook(tenant_b, settings)
    http = await tenant_b.client()
    foreign_rule = (await http.post(tenant_b.url("/rules"), json=RULE)).json()["id"]
    foreign_survey = (await http.post(tenant_b.url("/surveys"), json={"name": "B"})).json()["id"]

    await _sign_in(tenant_a, client, Role.SUPERVISOR)
    assert (await client.get(f"/admin/rules?tenant={tenant_a.slug}")).status_code == 403
    await _sign_in(tenant_a, client)
    for path in ("/admin/rules", "/admin/surveys", "/admin/webhooks"):
        assert (await client.get(f"{path}?tenant={tenant_b.slug}")).status_code == 404
    # Another company's objects through this company's pages: as if they did not exist.
    a = tenant_a.slug
    assert (await client.get(f"/admin/rules?tenant={a}&rule={foreign_rule}")).status_code == 404
    assert (
        await client.get(f"/admin/surveys?tenant={a}&survey={foreign_survey}")
    ).status_code == 404
    assert (
        await client.get(f"/admin/webhooks?tenant={a}&webhook={foreign_hook.id}")
    ).status_code == 404
    client.cookies.clear()
    signed_out = await client.get(f"/admin/rules?tenant={a}")
    assert signed_out.status_code == 303
