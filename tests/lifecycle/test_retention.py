"""Retention periods: the daily purge removes what is past its period and keeps the rest and the
numbers; bad periods are refused with problem+json and change nothing."""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from centralita.channels.email.models import EmailAttachment, EmailRecord
from centralita.db.base import utcnow
from centralita.events.models import AuditEntry
from centralita.identity.permissions import Role
from centralita.interactions.models import Channel, Message
from centralita.jobs.models import Job, JobKind
from centralita.lifecycle import service as retention
from centralita.lifecycle.schemas import RetentionUpdate
from centralita.tickets.models import TicketMessage
from tests.channels.email.conftest import Listener
from tests.conftest import TEST_ACTOR, TenantFixture
from tests.lifecycle.helpers import (
    backdate,
    lifecycle_worker,
    messages_of,
    receive_email,
    reports,
)
from tests.reporting.helpers import Outcome, add_queue, contact
from tests.tickets import fetch, make_ticket, post_ok

ANSWERED = Outcome(answered_after=10, talk=120, wrap=30)


async def _audit(tenant: TenantFixture, action: str) -> list[AuditEntry]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.at)
        return list((await session.execute(query)).scalars())


async def test_the_purge_removes_what_outlived_its_period_and_keeps_the_rest_and_the_numbers(
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    listener: Listener,
    tmp_path: Path,
) -> None:
    await add_queue(tenant_a)
    old_chat = await contact(tenant_a, ANSWERED, text="My card number is 4111", topic="billing")
    new_chat = await contact(tenant_a, ANSWERED, text="Where is my parcel?", topic="delivery")
    call = await contact(tenant_a, ANSWERED, channel=Channel.VOICE, text="Call notes")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        recording = {"name": "call.wav", "url": "https://rec.example/1", "size": 9}
        await session.execute(
            update(Message).where(Message.interaction_id == call).values(attachments=[recording])
        )
        await session.commit()
    old_mail = await receive_email(listener, tenant_a, "ana@example.com", "Old", "Old text")
    new_mail = await receive_email(listener, tenant_a, "ana@example.com", "New", "New text")
    other_tenant_chat = await contact(tenant_b, ANSWERED, text="Tenant B keeps everything")
    old = [m.id for m in await messages_of(tenant_a, old_chat)]
    old += [m.id for m in await messages_of(tenant_a, call)]
    await backdate(tenant_a, Message, old, days=100)
    await backdate(tenant_a, EmailRecord, [old_mail.id], days=100)
    b_old = [m.id for m in await messages_of(tenant_b, other_tenant_chat)]
    await backdate(tenant_b, Message, b_old, days=100)
    reports_before = await reports(tenant_a)
    http = await tenant_a.client(Role.ADMIN)

    set_response = await http.put(
        tenant_a.url("/retention"),
        json={"conversations_days": 90, "recordings_days": 30, "emails_days": 60},
    )
    await lifecycle_worker(tenant_a.db, tmp_path).step()

    assert set_response.status_code == 200, set_response.text
    assert await messages_of(tenant_a, old_chat) == []
    assert await messages_of(tenant_a, call) == []
    assert [m.text for m in await messages_of(tenant_a, new_chat)] == ["Where is my parcel?"]
    assert len(await messages_of(tenant_b, other_tenant_chat)) == 1
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        query = select(EmailRecord).options(undefer(EmailRecord.raw))
        mails = {r.id: r for r in (await session.execute(query)).scalars()}
        files = list((await session.execute(select(EmailAttachment.email_id))).scalars())
    assert mails[old_mail.id].raw == b""
    assert mails[old_mail.id].full_text == ""
    # The row stays: a provider's retry of the same Message-ID is still recognised.
    assert mails[old_mail.id].message_id == old_mail.message_id
    assert b"New text" in mails[new_mail.id].raw
    assert files == [new_mail.id]
    assert await reports(tenant_a) == reports_before
    (purged,) = await _audit(tenant_a, "lifecycle.retention_purged")
    assert purged.after is not None
    assert purged.after["removed"] == {
        "recording_links": 1,
        "interaction_messages": len(old),
        "email_attachments": 1,
        "email_raw_messages": 1,
    }
    assert (await http.get(tenant_a.url("/retention"))).json()["last_purge_at"] is not None


async def test_recording_links_go_at_their_own_period_and_a_second_purge_changes_nothing(
    tenant_a: TenantFixture, tmp_path: Path
) -> None:
    await add_queue(tenant_a)
    call = await contact(tenant_a, ANSWERED, channel=Channel.VOICE, text="Call notes")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        recording = {"name": "call.wav", "url": "https://rec.example/1", "size": 9}
        await session.execute(
            update(Message).where(Message.interaction_id == call).values(attachments=[recording])
        )
        await session.commit()
    await backdate(tenant_a, Message, [m.id for m in await messages_of(tenant_a, call)], days=40)
    http = await tenant_a.client(Role.ADMIN)
    await http.put(tenant_a.url("/retention"), json={"recordings_days": 30})
    now = utcnow()

    await lifecycle_worker(tenant_a.db, tmp_path, now).step()
    await lifecycle_worker(tenant_a.db, tmp_path, now + timedelta(days=1, seconds=1)).step()

    (note,) = await messages_of(tenant_a, call)
    assert (note.text, note.attachments) == ("Call notes", [])
    (purged,) = await _audit(tenant_a, "lifecycle.retention_purged")
    assert purged.after is not None
    assert purged.after["removed"] == {"recording_links": 1}
    async with tenant_a.db.system_session() as session:
        query = select(Job.due_at).where(
            Job.kind == JobKind.LIFECYCLE_RETENTION, Job.ref_id == tenant_a.id
        )
        (next_run,) = (await session.execute(query)).scalars()
    assert next_run == now + timedelta(days=2, seconds=1)


async def test_clearing_every_period_keeps_everything_and_stops_the_purge(
    tenant_a: TenantFixture,
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    await http.put(tenant_a.url("/retention"), json={"conversations_days": 30})

    response = await http.put(tenant_a.url("/retention"), json={})

    assert response.json() == {
        "conversations_days": None,
        "recordings_days": None,
        "emails_days": None,
        "last_purge_at": None,
    }
    async with tenant_a.db.system_session() as session:
        query = select(Job.id).where(
            Job.kind == JobKind.LIFECYCLE_RETENTION, Job.ref_id == tenant_a.id
        )
        assert (await session.execute(query)).first() is None
    (_, cleared) = await _audit(tenant_a, "lifecycle.retention_updated")
    assert cleared.after == {
        "conversations_days": None,
        "recordings_days": None,
        "emails_days": None,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"conversations_days": -1}, "conversations_days"),
        ({"conversations_days": 0}, "conversations_days"),
        ({"recordings_days": 10**12}, "recordings_days"),
        ({"emails_days": 36_501}, "emails_days"),
        ({"emails_days": "30"}, "emails_days"),
        ({"emails_days": True}, "emails_days"),
        ({"emails_days": 1.5}, "emails_days"),
        ({"forever": 1}, "forever"),
    ],
)
async def test_bad_periods_are_refused_as_problems_and_change_nothing(
    tenant_a: TenantFixture, body: dict[str, Any], field: str
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    await http.put(tenant_a.url("/retention"), json={"conversations_days": 365})

    response = await http.put(tenant_a.url("/retention"), json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [f"body.{field}"]
    assert (await http.get(tenant_a.url("/retention"))).json()["conversations_days"] == 365


async def test_only_administrators_see_or_set_retention(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)

    read = await http.get(tenant_a.url("/retention"))
    write = await http.put(tenant_a.url("/retention"), json={"conversations_days": 1})

    assert (read.status_code, write.status_code) == (403, 403)


async def test_a_large_backlog_is_purged_over_several_runs_in_bounded_batches(
    tenant_a: TenantFixture,
) -> None:
    await add_queue(tenant_a)
    chat = await contact(tenant_a, ANSWERED, text="first")
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        session.add_all(
            Message(
                tenant_id=tenant_a.id,
                interaction_id=chat,
                author_kind="customer",
                text=f"line {n}",
                attachments=[],
            )
            for n in range(retention.BATCHES_PER_RUN + 4)
        )
        await session.commit()
    await backdate(tenant_a, Message, [m.id for m in await messages_of(tenant_a, chat)], days=9)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await retention.set_retention(
            session, tenant_a.id, TEST_ACTOR, RetentionUpdate(conversations_days=7), utcnow()
        )
        await session.commit()

    runs = []
    for _ in range(2):
        async with tenant_a.db.tenant_session(tenant_a.id) as session:
            runs.append(await retention.run_purge(session, tenant_a.id, utcnow(), batch=1))
            await session.commit()

    assert [(r.counts, r.backlog) for r in runs if r is not None] == [
        ({"interaction_messages": retention.BATCHES_PER_RUN}, True),
        ({"interaction_messages": 5}, False),
    ]
    assert await messages_of(tenant_a, chat) == []


async def _thread(tenant: TenantFixture, ticket_id: str) -> list[str]:
    async with tenant.db.tenant_session(tenant.id) as session:
        query = (
            select(TicketMessage.text)
            .where(TicketMessage.ticket_id == uuid.UUID(ticket_id))
            .order_by(TicketMessage.created_at)
        )
        return list((await session.execute(query)).scalars())


async def test_old_messages_of_closed_tickets_go_with_the_conversations_and_open_ones_stay(
    tenant_a: TenantFixture, tmp_path: Path
) -> None:
    agent = await tenant_a.client(Role.AGENT)
    closed = await make_ticket(tenant_a, channel="chat")
    working = await make_ticket(tenant_a, channel="chat")
    written: list[uuid.UUID] = []
    for ticket, words in ((closed, "Mi IBAN es ES91 2100"), (working, "Sigo sin poder entrar")):
        url = tenant_a.url(f"/tickets/{ticket['id']}/messages")
        message = await post_ok(agent, url, {"kind": "customer", "text": words})
        written.append(uuid.UUID(message["id"]))
    await backdate(tenant_a, TicketMessage, written, days=100)
    closed_url = tenant_a.url(f"/tickets/{closed['id']}")
    recent = await post_ok(
        agent, f"{closed_url}/messages", {"kind": "internal", "text": "Resuelto hoy"}
    )
    for status in ("resolved", "closed"):
        assert (await agent.patch(closed_url, json={"status": status})).status_code == 200
    admin = await tenant_a.client(Role.ADMIN)

    await admin.put(tenant_a.url("/retention"), json={"conversations_days": 90})
    await lifecycle_worker(tenant_a.db, tmp_path).step()

    assert await _thread(tenant_a, closed["id"]) == [recent["text"]]
    assert await _thread(tenant_a, working["id"]) == ["Sigo sin poder entrar"]
    assert (await fetch(tenant_a, closed["id"]))["subject"] == closed["subject"]
    (purged,) = await _audit(tenant_a, "lifecycle.retention_purged")
    assert purged.after is not None
    assert purged.after["removed"] == {"ticket_messages": 1}
