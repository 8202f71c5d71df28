"""The provider's REST API in Twilio's format: place a call, steer or end a live one, send an SMS,
ring a customer to speak a message.

Accounts are per phone number (``account_sid`` and ``auth_token`` in the number's channel
address settings); the base URL is configurable, so SignalWire, Telnyx TeXML or a local test
server speak the same requests.
"""

import json
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.channels.models import AddressChannel, ChannelAddress
from centralita.channels.voice.webhook import AUTH_TOKEN

ACCOUNT_SID = "account_sid"
TIMEOUT_S = 10.0


class ProviderError(RuntimeError):
    """The provider refused or could not be reached (a delivery job retries later)."""


class Messages(Protocol):
    """What senders of many messages need: texts, and calls that speak a message."""

    async def message(
        self,
        address: ChannelAddress,
        to: str,
        body: str,
        key: str,
        status_callback: str | None = None,
    ) -> str: ...

    async def announce(
        self,
        address: ChannelAddress,
        to: str,
        twiml: str,
        key: str,
        status_callback: str | None = None,
    ) -> str: ...


def _message_form(
    address: ChannelAddress, to: str, body: str, status_callback: str | None
) -> dict[str, str]:
    data = {"To": to, "From": address.address, "Body": body}
    if status_callback:
        # The provider reports sent, delivered, undelivered or failed there.
        data["StatusCallback"] = status_callback
    return data


def _announce_form(
    address: ChannelAddress, to: str, twiml: str, status_callback: str | None
) -> dict[str, str]:
    """A call whose instructions travel with it (``Twiml``): nothing to fetch once answered;
    only how it ended is reported."""
    data = {"To": to, "From": address.address, "Twiml": twiml}
    if status_callback:
        data |= {"StatusCallback": status_callback, "StatusCallbackEvent": "completed"}
    return data


def _account(address: ChannelAddress) -> tuple[str, str]:
    sid, token = address.settings.get(ACCOUNT_SID), address.settings.get(AUTH_TOKEN)
    if not isinstance(sid, str) or not isinstance(token, str):
        raise ProviderError(f"the number {address.address} has no provider account")
    return sid, token


def has_account(address: ChannelAddress) -> bool:
    return isinstance(address.settings.get(ACCOUNT_SID), str)


async def calling_number(session: AsyncSession) -> ChannelAddress | None:
    """The number the scoped tenant's automated calls come from: its first voice number with a
    provider account."""
    query = (
        select(ChannelAddress)
        .where(ChannelAddress.channel == AddressChannel.VOICE)
        .order_by(ChannelAddress.created_at, ChannelAddress.id)
    )
    return next((a for a in (await session.execute(query)).scalars() if has_account(a)), None)


@dataclass(frozen=True)
class Provider:
    base_url: str

    async def _post(
        self, address: ChannelAddress, resource: str, data: dict[str, str], key: str | None
    ) -> dict[str, Any]:
        sid, token = _account(address)
        url = f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{sid}/{resource}.json"
        # Providers that honour it make a repeated attempt (after a crash) send nothing twice.
        headers = {"Idempotency-Key": key} if key else {}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
                answer = await http.post(url, data=data, auth=(sid, token), headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderError(f"the provider could not be reached: {exc}") from exc
        if answer.status_code >= 300:
            raise ProviderError(f"the provider answered {answer.status_code}: {answer.text[:300]}")
        body: dict[str, Any] = answer.json()
        return body

    async def call(self, address: ChannelAddress, to: str, url: str, status_callback: str) -> str:
        """Place a call from ``address`` to ``to``; the provider fetches ``url`` once answered.
        Returns the call's sid."""
        data = {
            "To": to,
            "From": address.address,
            "Url": url,
            "StatusCallback": status_callback,
            "StatusCallbackEvent": "initiated ringing answered completed",
        }
        return str((await self._post(address, "Calls", data, None))["sid"])

    async def message(
        self,
        address: ChannelAddress,
        to: str,
        body: str,
        key: str,
        status_callback: str | None = None,
    ) -> str:
        data = _message_form(address, to, body, status_callback)
        return str((await self._post(address, "Messages", data, key))["sid"])

    async def announce(
        self,
        address: ChannelAddress,
        to: str,
        twiml: str,
        key: str,
        status_callback: str | None = None,
    ) -> str:
        """Ring ``to`` and speak ``twiml`` once answered; returns the call's sid."""
        data = _announce_form(address, to, twiml, status_callback)
        return str((await self._post(address, "Calls", data, key))["sid"])

    async def redirect_call(self, address: ChannelAddress, sid: str, url: str) -> None:
        """Take a live call to new TwiML fetched from ``url`` (what it was doing stops)."""
        await self._post(address, f"Calls/{sid}", {"Url": url, "Method": "POST"}, None)

    async def hang_up(self, address: ChannelAddress, sid: str) -> None:
        await self._post(address, f"Calls/{sid}", {"Status": "completed"}, None)


@dataclass(frozen=True)
class PooledMessages:
    """The same Messages request over kept-alive connections, for senders of many (campaigns):
    aiohttp's pool sustains hundreds of requests a second where a client per request cannot."""

    base_url: str
    http: aiohttp.ClientSession

    async def message(
        self,
        address: ChannelAddress,
        to: str,
        body: str,
        key: str,
        status_callback: str | None = None,
    ) -> str:
        data = _message_form(address, to, body, status_callback)
        return await self._post(address, "Messages", data, key)

    async def announce(
        self,
        address: ChannelAddress,
        to: str,
        twiml: str,
        key: str,
        status_callback: str | None = None,
    ) -> str:
        data = _announce_form(address, to, twiml, status_callback)
        return await self._post(address, "Calls", data, key)

    async def _post(
        self, address: ChannelAddress, resource: str, data: dict[str, str], key: str
    ) -> str:
        sid, token = _account(address)
        url = f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{sid}/{resource}.json"
        headers = {"Idempotency-Key": key, "Authorization": aiohttp.encode_basic_auth(sid, token)}
        try:
            async with self.http.post(url, data=data, headers=headers) as answer:
                text = await answer.text()
                if answer.status >= 300:
                    raise ProviderError(f"the provider answered {answer.status}: {text[:300]}")
                return str(json.loads(text)["sid"])
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError(f"the provider could not be reached: {exc}") from exc
