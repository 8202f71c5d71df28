"""A provider stand-in that honours Idempotency-Key, campaign helpers, a clean dispatch table."""

import json
import threading
import time
from base64 import b64decode
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import update

from centralita.campaigns.consent import UnsubscribeLinks
from centralita.campaigns.models import Campaign, CampaignStatus
from centralita.channels.campaigns import CampaignDispatcher
from centralita.channels.email.outbound import Relay
from centralita.channels.voice.provider import Messages, Provider
from centralita.db.engine import Database
from centralita.identity.permissions import Role
from tests.channels.email.conftest import sink  # noqa: F401 - the SMTP sink fixture
from tests.conftest import TenantFixture


@dataclass
class KeyedProvider:
    """Twilio's Messages and Calls API on 127.0.0.1: a repeated Idempotency-Key gets the first
    answer and creates no second message or call, as providers that support the key do."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, dict[str, str]] = field(default_factory=dict)
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent_to(self) -> list[str]:
        return [m["To"] for m in self.messages.values()]


def serve_keyed_provider() -> Iterator[KeyedProvider]:
    provider = KeyedProvider()

    class Api(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            user = b64decode(self.headers["Authorization"].split()[1]).decode().split(":")[0]
            key = self.headers.get("Idempotency-Key") or f"none-{time.monotonic_ns()}"
            time.sleep(provider.delay_s)
            with provider.lock:
                provider.requests.append({"form": form, "user": user, "key": key})
                if key not in provider.messages:
                    kind = "CA" if self.path.endswith("/Calls.json") else "SM"
                    sid = f"{kind}{len(provider.messages):032d}"
                    provider.messages[key] = {**form, "sid": sid, "path": self.path}
                sid = provider.messages[key]["sid"]
            body = json.dumps({"sid": sid}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    class Server(ThreadingHTTPServer):
        # The dispatcher opens dozens of connections at once.
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Api)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()


@pytest.fixture
def keyed_provider() -> Iterator[KeyedProvider]:
    yield from serve_keyed_provider()


async def _finish_running(db: Database) -> None:
    async with db.system_session() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.status == CampaignStatus.RUNNING)
            .values(status=CampaignStatus.FINISHED)
        )
        await session.commit()


@pytest.fixture(autouse=True)
async def no_other_running_campaigns(db: Database) -> AsyncIterator[None]:
    """Dispatchers claim due contacts of every tenant: each test sees only its own campaigns."""
    await _finish_running(db)
    yield
    await _finish_running(db)


def dispatcher(
    db: Database,
    provider: KeyedProvider,
    clock: Callable[[], datetime],
    relay: Relay | None = None,
    messages: Messages | None = None,
) -> CampaignDispatcher:
    return CampaignDispatcher(
        db,
        messages or Provider(provider.url),
        relay,
        UnsubscribeLinks("test-secret", "http://testserver"),
        clock=clock,
        reports="http://testserver",
    )


async def make_customer(tenant: TenantFixture, **fields: Any) -> str:
    http = await tenant.client(Role.ADMIN)
    identities = []
    if "phone" in fields:
        identities.append({"kind": "phone", "value": fields.pop("phone")})
    if "email" in fields:
        identities.append({"kind": "email", "value": fields.pop("email")})
    body = {"display_name": "Lucía", "language": "es", "identities": identities, **fields}
    made = await http.post(tenant.url("/customers"), json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


SMS_TEMPLATES = {
    "sms": {
        "es": "Hola {name}, su tarjeta nueva está lista.",
        "en": "Hi {name}, your new card is ready.",
    }
}


async def make_campaign(tenant: TenantFixture, **fields: Any) -> dict[str, Any]:
    http = await tenant.client(Role.ADMIN)
    body = {"name": "Tarjeta nueva", "templates": SMS_TEMPLATES, **fields}
    made = await http.post(tenant.url("/campaigns"), json=body)
    assert made.status_code == 201, made.text
    campaign: dict[str, Any] = made.json()
    return campaign


async def start(tenant: TenantFixture, campaign_id: str) -> None:
    http = await tenant.client(Role.ADMIN)
    started = await http.post(tenant.url(f"/campaigns/{campaign_id}/start"))
    assert started.status_code == 200, started.text


async def results(tenant: TenantFixture, campaign_id: str) -> dict[str, Any]:
    http = await tenant.client(Role.ADMIN)
    answer = await http.get(tenant.url(f"/campaigns/{campaign_id}/results"), params={"limit": 200})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
