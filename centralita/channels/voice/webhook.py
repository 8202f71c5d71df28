"""Provider webhooks: which tenant's number was called, and whether the provider really sent it.

Twilio (and the compatible providers) sign each request: base64(HMAC-SHA1(auth token, the full
URL followed by every POST parameter name and value, sorted by name)) in ``X-Twilio-Signature``.
Each number's auth token lives in its channel address's settings (never shown by the API). An
unsigned or forged request is refused with 403 before anything is read or stored.

Who owns a number is asked by every webhook of every call step, so each process keeps the answer
for ``OWNER_TTL_SECONDS`` (as the SMTP listener does for mailboxes): a number's changed token,
queue or tenant settings count within that time, and at once in the process whose API changed the
number.
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import State

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.service import owner_of
from centralita.config import Settings
from centralita.customers.service import normalise_phone
from centralita.db.engine import Database
from centralita.errors import Forbidden
from centralita.tenancy.models import Tenant

SIGNATURE_HEADER = "x-twilio-signature"
# Settings of a phone number's address that the API never returns.
AUTH_TOKEN = "auth_token"  # noqa: S105 - the name of the setting, not a secret
OWNER_TTL_SECONDS = 10.0
MAX_CACHED = 10_000


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


@dataclass(frozen=True)
class _Owner:
    address: ChannelAddress
    tenant: Tenant
    seen_at: float


class NumberOwners:
    """The address and tenant of our numbers, looked up across tenants and kept a little while
    (unknown numbers are not kept: a number added elsewhere answers at once)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._owners: dict[tuple[AddressChannel, str], _Owner] = {}

    async def owner(
        self, channel: AddressChannel, number: str
    ) -> tuple[ChannelAddress, Tenant] | None:
        now = time.monotonic()
        cached = self._owners.get((channel, number))
        if cached is None or now - cached.seen_at > OWNER_TTL_SECONDS:
            async with self._db.system_session() as session:
                address = await owner_of(session, channel, number)
                tenant = await session.get(Tenant, address.tenant_id) if address else None
            if address is None or tenant is None:
                return None
            if len(self._owners) >= MAX_CACHED:
                self._owners.clear()
            cached = self._owners[(channel, number)] = _Owner(address, tenant, now)
        return cached.address, cached.tenant

    def forget(self) -> None:
        self._owners.clear()


def number_owners(state: State) -> NumberOwners:
    """The application's cache of number owners, made on first use."""
    owners: NumberOwners | None = getattr(state, "number_owners", None)
    if owners is None:
        owners = state.number_owners = NumberOwners(state.db)
    return owners


async def verified_webhook(request: Request, channel: AddressChannel) -> Webhook:
    """The request's tenant and parameters, once its signature is checked with that number's
    token; our number is ``To`` on inbound traffic and ``From`` on calls we placed."""
    form = await request.form()
    items = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    params = dict(items)
    owners = number_owners(request.app.state)
    found = None
    for number in (params.get("To", ""), params.get("From", "")):
        e164 = _e164(number)
        if e164 is not None:
            found = await owners.owner(channel, e164)
            if found is not None:
                break
    token = found[0].settings.get(AUTH_TOKEN) if found else None
    given = request.headers.get(SIGNATURE_HEADER, "")
    if found is None or not isinstance(token, str) or not given:
        raise Forbidden("Unsigned request, or a number this platform does not serve")
    expected = signature(token, public_url(request, request.app.state.settings), items)
    if not hmac.compare_digest(expected, given):
        raise Forbidden("The request's signature does not match")
    address, tenant = found
    return Webhook(tenant, address, params)
