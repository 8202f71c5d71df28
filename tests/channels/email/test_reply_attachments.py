"""An agent's email reply with files: checked, stored with the message in one transaction, sent
by the durable delivery job as real MIME attachments, and downloadable only in its tenant."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from centralita.channels.email.models import Direction, EmailAttachment, EmailRecord
from centralita.channels.email.replies import MAX_FILE_BYTES
from centralita.db.base import utcnow
from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction, Message
from centralita.jobs.models import Job, JobKind
from centralita.jobs.worker import JobWorker
from tests.channels.email.conftest import Listener, Sink, add_mailbox, unique_address
from tests.channels.email.test_outbound import _opened, worker_for  # noqa: F401 - a fixture
from tests.conftest import TenantFixture

XSS = "<img src=x onerror=alert(1)>"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


async def _email_work(listener: Listener, tenant: TenantFixture, message_id: str) -> str:
    box = unique_address()
    await add_mailbox(tenant, box)
    ticket = await _opened(listener, tenant, box, message_id)
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(Interaction.id).where(Interaction.ticket_id == ticket.id)
        return str((await session.execute(query)).scalar_one())


async def _reply(
    tenant: TenantFixture, work_id: str, text: str, files: list[tuple[str, Any, str]]
) -> httpx.Response:
    http = await tenant.client(Role.AGENT)
    return await http.post(
        tenant.url(f"/email/interactions/{work_id}/replies"),
        data={"text": text},
        files=[("files", file) for file in files],
    )


async def _stored(tenant: TenantFixture) -> tuple[int, int]:
    async with tenant.db.tenant_session(tenant.id) as session:
        messages = select(func.count()).select_from(Message).where(Message.author_kind == "agent")
        files = select(func.count()).select_from(EmailAttachment)
        return (
            (await session.execute(messages)).scalar_one(),
            (await session.execute(files)).scalar_one(),
        )


async def test_a_reply_with_files_goes_out_with_them_as_mime_attachments(
    listener: Listener,
    sink: Sink,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    worker_for: Callable[..., JobWorker],  # noqa: F811 - the fixture
) -> None:
    work_id = await _email_work(listener, tenant_a, "files-1@cliente.example")
    posted = await _reply(
        tenant_a,
        work_id,
        "Le adjunto la factura corregida.",
        [
            ("factura-año.pdf", PDF, "application/pdf"),
            (f"{XSS}.txt", "línea 1\n".encode(), "text/plain"),
        ],
    )
    assert posted.status_code == 201, posted.text
    listed = posted.json()["attachments"]
    assert [(a["name"], a["size"]) for a in listed] == [
        ("factura-año.pdf", len(PDF)),
        (f"{XSS}.txt", len("línea 1\n".encode())),
    ]
    # Stored with its delivery job in the same commit: a worker that dies now loses nothing.
    async with tenant_a.db.system_session() as session:
        jobs = select(Job).where(Job.kind == JobKind.CHANNEL_DELIVERY)
        assert len(list((await session.execute(jobs)).scalars())) == 1
    sink.refuse = True
    await worker_for().step()
    assert sink.messages() == []
    sink.refuse = False

    await worker_for(lambda: utcnow() + timedelta(minutes=5)).step()

    [sent] = sink.messages()
    assert sent.get_content_type() == "multipart/mixed"
    # The files' exact bytes and names, as the customer's mail program will save them.
    files = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in sent.iter_attachments()
    ]
    assert files == [
        ("factura-año.pdf", "application/pdf", PDF),
        (f"{XSS}.txt", "text/plain", "línea 1\n".encode()),
    ]
    body = sent.get_body(("plain",))
    assert body is not None
    assert "Le adjunto la factura corregida." in body.get_content()
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        query = select(EmailRecord).where(EmailRecord.direction == Direction.OUT)
        [record] = list((await session.execute(query)).scalars())
        linked = select(EmailAttachment.email_id).where(EmailAttachment.message_ref.is_not(None))
        assert set((await session.execute(linked)).scalars()) == {record.id}

    # The thread lists the sent files; the agent downloads them, in their tenant only.
    agent = await tenant_a.client(Role.AGENT)
    thread = (await agent.get(tenant_a.url(f"/interactions/{work_id}"))).json()
    [reply] = [m for m in thread["messages"] if m["author_kind"] == "agent"]
    assert [a["name"] for a in reply["attachments"]] == ["factura-año.pdf", f"{XSS}.txt"]
    url = reply["attachments"][0]["url"]
    got = await agent.get(url)
    assert got.status_code == 200
    assert got.content == PDF
    assert "filename*=UTF-8''factura-a%C3%B1o.pdf" in got.headers["content-disposition"]
    text_file = await agent.get(reply["attachments"][1]["url"])
    assert text_file.headers["content-type"] == "application/octet-stream"
    assert text_file.headers["content-disposition"].startswith("attachment;")
    stranger = await tenant_b.client(Role.AGENT)
    attachment_id = url.rsplit("/", 1)[-1]
    for path in (url, tenant_b.url(f"/email/attachments/{attachment_id}")):
        refused = await stranger.get(path)
        assert refused.status_code == 404, path
        assert refused.headers["content-type"] == "application/problem+json"


async def test_files_over_the_limits_or_programs_are_refused_and_nothing_is_stored(
    listener: Listener, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    work_id = await _email_work(listener, tenant_a, "files-2@cliente.example")
    before = await _stored(tenant_a)

    big = await _reply(
        tenant_a,
        work_id,
        "Va grande",
        [("big.bin", b"x" * (MAX_FILE_BYTES + 1), "application/octet-stream")],
    )
    assert big.status_code == 413, big.text
    assert big.headers["content-type"] == "application/problem+json"
    assert big.json()["type"].endswith("/attachments-too-large")
    assert "big.bin" in big.json()["detail"]

    together = [(f"part{i}.pdf", b"y" * 8_000_000, "application/pdf") for i in range(2)]
    too_much = await _reply(tenant_a, work_id, "Dos grandes", together)
    assert too_much.status_code == 413, too_much.text

    program = await _reply(tenant_a, work_id, "Un programa", [("setup.EXE", b"MZ", "x/y")])
    assert program.status_code == 422, program.text
    assert program.json()["errors"][0]["field"] == "body.files"

    empty = await _reply(tenant_a, work_id, "   ", [])
    assert empty.status_code == 422, empty.text

    # Another tenant's agent cannot reply on this work at all.
    foreign = await _reply(tenant_b, work_id, "Hola", [("a.txt", b"a", "text/plain")])
    assert foreign.status_code == 404, foreign.text
    assert await _stored(tenant_a) == before


async def test_files_go_only_on_email_conversations(tenant_a: TenantFixture) -> None:
    admin = await tenant_a.client()
    chat = await admin.post(
        tenant_a.url("/interactions"),
        json={"channel": "chat", "identity": {"kind": "email", "value": "c@example.com"}},
    )
    assert chat.status_code == 201, chat.text

    refused = await _reply(tenant_a, chat.json()["id"], "Hola", [("a.txt", b"a", "text/plain")])

    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/not-email")
