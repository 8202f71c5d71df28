"""Shared by the voice and SMS tests: signed provider webhooks and a provider REST API."""

import json
import secrets
import threading
import xml.etree.ElementTree as ET
from base64 import b64decode
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
from twilio.request_validator import RequestValidator

from centralita.channels.models import AddressChannel, ChannelAddress
from tests.conftest import TenantFixture

AUTH_TOKEN = "12345678901234567890123456789012"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
BASE = "http://testserver"


def new_number() -> str:
    """A Madrid landline of its own: addresses are unique across the whole (shared) database."""
    return f"+3491{secrets.randbelow(10**7):07d}"


async def add_number(
    tenant: TenantFixture,
    channel: AddressChannel,
    number: str,
    queue: str | None = None,
    **settings: Any,
) -> ChannelAddress:
    async with tenant.db.tenant_session(tenant.id) as session:
        row = ChannelAddress(
            tenant_id=tenant.id,
            channel=channel,
            address=number,
            display_name="Banco Horizonte",
            queue=queue,
            settings={"auth_token": AUTH_TOKEN, "account_sid": ACCOUNT_SID, **settings},
        )
        session.add(row)
        await session.commit()
    return row


async def signed_post(
    http: httpx.AsyncClient, path: str, params: dict[str, str], token: str = AUTH_TOKEN
) -> httpx.Response:
    """POST as the provider does, signed by the official library's validator."""
    signature = RequestValidator(token).compute_signature(f"{BASE}{path}", params)
    return await http.post(path, data=params, headers={"X-Twilio-Signature": signature})


def twiml(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)  # noqa: S314 - our own answer under test
    assert root.tag == "Response"
    return root


def said(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter("Say")]


@dataclass
class FakeProvider:
    """A local HTTP server answering Twilio's REST requests, recording what it was asked."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0


def serve_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider("")

    class Api(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            user = b64decode(self.headers["Authorization"].split()[1]).decode().split(":")[0]
            provider.requests.append(
                {
                    "path": self.path,
                    "form": form,
                    "user": user,
                    "key": self.headers.get("Idempotency-Key"),
                }
            )
            if provider.fail_next:
                provider.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            resource = "CA" if self.path.endswith("/Calls.json") else "SM"
            body = json.dumps({"sid": f"{resource}{len(provider.requests):032d}"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()
