"""Consent per customer and channel, opt-outs by SMS keyword and by signed unsubscribe link.

An explicit decision (a row in ``contact_consents``) overrides the profile's flags; withdrawing
also clears the profile flag, so every other sender of the platform (surveys, rules) stops too.
Each change is in the audit log with how it came (keyword, link, one-click, import, API).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.campaigns.models import ConsentSource, ContactChannel, ContactConsent
from centralita.customers.models import Customer
from centralita.db.base import new_id, utcnow
from centralita.db.scoping import use_tenant_scope
from centralita.errors import NotFound
from centralita.events.service import Actor, record_audit
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import get_tenant_by_slug

# The keywords carriers and providers treat as "stop sending me messages" (CTIA, Twilio), with
# their Spanish counterparts, and the ones that undo it. Only a text that is nothing but the
# keyword counts; a "sí" or a "cancelar" answering an agent stays a message for the agent.
STOP_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "baja", "alto", "darse de baja"}
)
START_KEYWORDS = frozenset({"start", "unstop", "alta"})
STOP_REPLY = {
    "es": "Has sido dado de baja y no recibirás más mensajes de {tenant}. Responde ALTA para "
    "volver a recibirlos.",
    "en": "You have been unsubscribed and will receive no more messages from {tenant}. Reply "
    "START to resubscribe.",
}
START_REPLY = {
    "es": "Vuelves a recibir mensajes de {tenant}. Responde BAJA para dejar de recibirlos.",
    "en": "You will receive messages from {tenant} again. Reply STOP to unsubscribe.",
}


def keyword_of(text: str) -> str | None:
    """ "stop" or "start" when the whole text is one of their keywords, else None."""
    word = " ".join(text.strip().strip(".!¡").casefold().split())
    if word in STOP_KEYWORDS:
        return "stop"
    if word in START_KEYWORDS:
        return "start"
    return None


def reply_for(keyword: str, tenant: Tenant, language: str | None) -> str:
    texts = STOP_REPLY if keyword == "stop" else START_REPLY
    chosen = language if language in texts else tenant.default_locale
    return texts.get(chosen or "es", texts["es"]).format(tenant=tenant.name)


def profile_consent(customer: Customer, channel: ContactChannel | str) -> bool:
    """What the customer's profile says when no explicit decision was recorded."""
    if channel == ContactChannel.EMAIL:
        return customer.consent_email
    # A call or an SMS goes to the phone the customer agreed to be contacted on.
    return customer.consent_sms


async def decisions_of(
    session: AsyncSession, tenant_ids: Iterable[uuid.UUID], customer_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], bool]:
    """The explicit decisions recorded for these customers (of these tenants), by (customer,
    channel)."""
    ids = list(customer_ids)
    if not ids:
        return {}
    query = select(
        ContactConsent.customer_id, ContactConsent.channel, ContactConsent.granted
    ).where(ContactConsent.tenant_id.in_(list(tenant_ids)), ContactConsent.customer_id.in_(ids))
    return {(c, str(ch)): g for c, ch, g in (await session.execute(query)).all()}


async def set_consent(
    session: AsyncSession,
    actor: Actor,
    customer: Customer,
    channel: ContactChannel,
    *,
    granted: bool,
    source: ConsentSource,
    detail: str | None = None,
) -> ContactConsent:
    """Record a decision; it applies to every send from now on."""
    now = utcnow()
    query = select(ContactConsent).where(
        ContactConsent.customer_id == customer.id, ContactConsent.channel == channel
    )
    row = (await session.execute(query)).scalar_one_or_none()
    before = None if row is None else {"granted": row.granted, "source": row.source}
    if row is None:
        row = ContactConsent(
            tenant_id=customer.tenant_id,
            id=new_id(),
            customer_id=customer.id,
            channel=channel,
            granted=granted,
            source=source,
            detail=detail,
            changed_at=now,
        )
        session.add(row)
    else:
        row.granted, row.source, row.detail, row.changed_at = granted, source, detail, now
    if not granted:
        if channel == ContactChannel.EMAIL:
            customer.consent_email = False
        elif channel == ContactChannel.SMS:
            customer.consent_sms = False
    record_audit(
        session,
        customer.tenant_id,
        actor,
        "consent.granted" if granted else "consent.withdrawn",
        ("customer", customer.id),
        before=before,
        after={
            "channel": str(channel),
            "granted": granted,
            "source": str(source),
            "detail": detail,
        },
    )
    await session.flush()
    return row


async def consents_of(session: AsyncSession, customer_id: uuid.UUID) -> list[ContactConsent]:
    query = select(ContactConsent).where(ContactConsent.customer_id == customer_id)
    return list((await session.execute(query.order_by(ContactConsent.channel))).scalars())


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Signs the link every campaign email carries; the signature binds tenant and customer."""

    secret_key: str
    public_url: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret_key, salt="campaign-unsubscribe")

    def token(self, tenant_id: uuid.UUID, customer_id: uuid.UUID, campaign_id: uuid.UUID) -> str:
        return str(self._serializer().dumps([tenant_id.hex, customer_id.hex, campaign_id.hex]))

    def url(self, tenant_slug: str, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/u/{tenant_slug}/{token}"

    def read(self, tenant_id: uuid.UUID, token: str) -> tuple[uuid.UUID, uuid.UUID]:
        """(customer, campaign) named by a token signed for this tenant; NotFound otherwise."""
        try:
            tenant_hex, customer_hex, campaign_hex = self._serializer().loads(token)
            if uuid.UUID(hex=tenant_hex) != tenant_id:
                raise ValueError
            return uuid.UUID(hex=customer_hex), uuid.UUID(hex=campaign_hex)
        except (BadSignature, ValueError, TypeError):
            raise NotFound("This unsubscribe link is not valid") from None


async def unsubscribe(
    session: AsyncSession, links: UnsubscribeLinks, tenant_slug: str, token: str, *, one_click: bool
) -> tuple[Tenant, Customer]:
    """Withdraw email consent of the customer a link names; 404 if forged or another tenant's."""
    tenant = await get_tenant_by_slug(session, tenant_slug)
    if tenant is None:
        raise NotFound("This unsubscribe link is not valid")
    customer_id, campaign_id = links.read(tenant.id, token)
    await use_tenant_scope(session, tenant.id)
    customer = (
        await session.execute(select(Customer).where(Customer.id == customer_id))
    ).scalar_one_or_none()
    if customer is None:
        raise NotFound("This unsubscribe link is not valid")
    await set_consent(
        session,
        Actor("unsubscribe"),
        customer,
        ContactChannel.EMAIL,
        granted=False,
        source=ConsentSource.ONE_CLICK if one_click else ConsentSource.UNSUBSCRIBE_LINK,
        detail=f"campaign {campaign_id}",
    )
    return tenant, customer


async def check_link(
    session: AsyncSession, links: UnsubscribeLinks, tenant_slug: str, token: str
) -> Tenant:
    """The tenant of a valid link (the page asks before it unsubscribes); NotFound otherwise."""
    tenant = await get_tenant_by_slug(session, tenant_slug)
    if tenant is None:
        raise NotFound("This unsubscribe link is not valid")
    links.read(tenant.id, token)
    return tenant


async def opt_out_by_text(
    session: AsyncSession, tenant: Tenant, customer: Customer, keyword: str, text: str
) -> None:
    """A STOP (or START) texted by the customer: recorded now, for SMS."""
    await set_consent(
        session,
        Actor("sms"),
        customer,
        ContactChannel.SMS,
        granted=keyword == "start",
        source=ConsentSource.SMS_KEYWORD,
        detail=text.strip()[:300],
    )
