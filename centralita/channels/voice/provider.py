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
    """The provider's REST API. Senders of many requests (campaigns) pass a kept-alive ``http``
    pool, which sustains hundreds of requests a second; others open a connection per request."""

    base_url: str
    http: aiohttp.ClientSession | None = None

    async def _post(
        self, address: ChannelAddress, resource: str, data: dict[str, str], key: str | None
    ) -> dict[str, Any]:
        sid, token = _account(address)
        url = f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{sid}/{resource}.json"
        headers = {"Authorization": aiohttp.encode_basic_auth(sid, token)}
        if key:
            # Providers that honour it make a repeated attempt (after a crash) send nothing twice.
            headers["Idempotency-Key"] = key
        try:
            if self.http is not None:
                return await _send(self.http, url, data, headers)
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)
            ) as http:
                return await _send(http, url, data, headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError(f"the provider could not be reached: {exc}") from exc

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


async def _send(
    http: aiohttp.ClientSession, url: str, data: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    async with http.post(url, data=data, headers=headers) as answer:
        text = await answer.text()
        if answer.status >= 300:
            raise ProviderError(f"the provider answered {answer.status}: {text[:300]}")
        body: dict[str, Any] = json.loads(text)
        return body
