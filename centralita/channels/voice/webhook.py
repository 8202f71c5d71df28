"""Provider webhooks: which tenant's number was called, and whether the provider really sent it.

Twilio (and the compatible providers) sign each request: base64(HMAC-SHA1(auth token, the full
URL followed by every POST parameter name and value, sorted by name)) in ``X-Twilio-Signature``.
Each number's auth token lives in its channel address's settings (never shown by the API). An
unsigned or forged request is refused with 403 before anything is read or stored.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Request

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.service import owner_of
from centralita.config import Settings
from centralita.customers.service import normalise_phone
from centralita.errors import Forbidden
from centralita.tenancy.models import Tenant

SIGNATURE_HEADER = "x-twilio-signature"
# Settings of a phone number's address that the API never returns.
AUTH_TOKEN = "auth_token"  # noqa: S105 - the name of the setting, not a secret


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Webhook:
    tenant: Tenant
    address: ChannelAddress
    params: dict[str, str]

    def get(self, name: str) -> str:
        return self.params.get(name, "").strip()


def public_url(request: Request, settings: Settings) -> str:
    """The URL the provider called (what it signed): behind a proxy, the configured public one."""
    if settings.telephony_public_base_url is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.telephony_public_base_url.rstrip("/") + request.url.path + query


def _e164(raw: str) -> str | None:
    try:
        return normalise_phone(raw, "ZZ")
    except ValueError:
        return None


async def verified_webhook(request: Request, channel: AddressChannel) -> Webhook:
    """The request's tenant and parameters, once its signature is checked with that number's
    token; our number is ``To`` on inbound traffic and ``From`` on calls we placed."""
    form = await request.form()
    items = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    params = dict(items)
    db, settings = request.app.state.db, request.app.state.settings
    address = None
    async with db.system_session() as session:
        for number in (params.get("To", ""), params.get("From", "")):
            e164 = _e164(number)
            if e164 is not None:
                address = await owner_of(session, channel, e164)
                if address is not None:
                    break
        tenant = await session.get(Tenant, address.tenant_id) if address else None
    token = address.settings.get(AUTH_TOKEN) if address else None
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not isinstance(token, str) or tenant is None or not given:
        raise Forbidden("Unsigned request, or a number this platform does not serve")
    expected = signature(token, public_url(request, settings), items)
    if not hmac.compare_digest(expected, given):
        raise Forbidden("The request's signature does not match")
    assert address is not None
    return Webhook(tenant, address, params)
