"""A tenant's full export: written by a background job, downloaded by its administrator, holding
every row of this tenant and the original emails, and nothing of any other tenant."""

import json
from datetime import datetime, timedelta
from pathlib import Path
from zipfile import ZipFile

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from centralita.channels.email.models import EmailRecord
from centralita.config import Settings
from centralita.db.scoping import TENANT_KEY
from centralita.identity.permissions import Role
from centralita.lifecycle import export
from centralita.lifecycle.export import KEEP_FOR, table_name, tenant_models
from tests.channels.email.conftest import Listener
from tests.conftest import TenantFixture
from tests.lifecycle.helpers import export_ready, lifecycle_worker, read_archive, receive_email
from tests.reporting.helpers import Outcome, add_queue, contact
from tests.tickets import make_customer
from tests.web.helpers import make_user, post_login

MARKER_B = "Tenant-B-private-Zx81"


async def test_the_export_holds_this_tenants_rows_and_emails_and_nothing_of_another(
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    listener: Listener,
    settings: Settings,
) -> None:
    for tenant, words in ((tenant_a, "Necesito ayuda con mi pedido"), (tenant_b, MARKER_B)):
        await add_queue(tenant)
        await contact(tenant, Outcome(answered_after=5), text=words, email=f"{words[:4]}@ex.com")
    mail = await receive_email(listener, tenant_a, "ana@example.com", "Factura", "Adjunto factura")
    await receive_email(listener, tenant_b, "bob@example.com", MARKER_B, MARKER_B)
    b_admin = await tenant_b.client(Role.ADMIN)
    hook = await b_admin.post(
        tenant_b.url("/webhooks"),
        json={"url": "http://8.8.8.8/b", "event_types": ["ticket.created"]},
    )
    a_admin = await tenant_a.client(Role.ADMIN)
    await a_admin.post(
        tenant_a.url("/webhooks"),
        json={"url": "http://8.8.8.8/a", "event_types": ["ticket.created"]},
    )

    status = await export_ready(tenant_a, settings)
    download = await a_admin.get(tenant_a.url(f"/exports/{status['id']}/download"))

    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert int(str(status["size_bytes"])) == len(download.content)
    tables, files = read_archive(download.content)
    assert not [name for name, rows in tables.items() if MARKER_B in json.dumps(rows)]
    assert not [name for name, data in files.items() if MARKER_B.encode() in data]
    assert set(tables) == {"users"} | {table_name(m) for m in tenant_models()}
    for name, rows in tables.items():
        if name != "users":
            assert {row["tenant_id"] for row in rows} <= {str(tenant_a.id)}, name
    assert "Necesito ayuda con mi pedido" in {m["text"] for m in tables["interaction_messages"]}
    assert len(tables["customers"]) == status["counts"]["customers"] == 2  # type: ignore[index]
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        query = select(EmailRecord).options(undefer(EmailRecord.raw))
        raws = {f"emails/{r.id}.eml": r.raw for r in (await session.execute(query)).scalars()}
    assert {n: d for n, d in files.items() if n.startswith("emails/")} == raws
    assert b"Adjunto factura" in files[f"emails/{mail.id}.eml"]
    # Credentials never leave: no signing secrets, no token hashes.
    assert "secret" not in tables["webhook_subscriptions"][0]
    assert "api_tokens" not in tables
    assert str(hook.json()["id"]) not in json.dumps(tables)


async def test_a_pending_export_cannot_be_downloaded_and_another_waits_for_it(
    tenant_a: TenantFixture, settings: Settings
) -> None:
    http = await tenant_a.client(Role.ADMIN)
    first = (await http.post(tenant_a.url("/exports"))).json()

    early = await http.get(tenant_a.url(f"/exports/{first['id']}/download"))
    again = await http.post(tenant_a.url("/exports"))
    listed = await http.get(tenant_a.url("/exports"))

    assert early.status_code == 409
    assert early.headers["content-type"] == "application/problem+json"
    assert again.status_code == 409
    assert [e["id"] for e in listed.json()] == [first["id"]]


async def test_exports_are_for_administrators_only(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.SUPERVISOR)

    assert (await http.post(tenant_a.url("/exports"))).status_code == 403
    assert (await http.get(tenant_a.url("/exports"))).status_code == 403


async def test_an_export_that_cannot_be_written_is_marked_failed_and_leaves_nothing(
    tenant_a: TenantFixture, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the export directory should be")
    http = await tenant_a.client(Role.ADMIN)
    requested = (await http.post(tenant_a.url("/exports"))).json()

    await lifecycle_worker(tenant_a.db, blocked).step()

    status = (await http.get(tenant_a.url(f"/exports/{requested['id']}"))).json()
    assert status["status"] == "failed"
    assert status["error"].startswith("Could not write the archive")
    assert blocked.read_text() == "a file where the export directory should be"
    again = await http.post(tenant_a.url("/exports"))
    assert again.status_code == 202


async def test_a_platform_administrator_downloads_a_tenants_export(
    tenant_a: TenantFixture, client: httpx.AsyncClient, settings: Settings
) -> None:
    status = await export_ready(tenant_a, settings)
    email = await make_user(tenant_a.app, tenant_a.db, platform_admin=True, name="Plataforma")
    assert (await post_login(client, email)).status_code == 303

    download = await client.get(tenant_a.url(f"/exports/{status['id']}/download"))

    assert download.status_code == 200
    tables, _ = read_archive(download.content)
    assert {row["tenant_id"] for row in tables["customers"]} <= {str(tenant_a.id)}


async def test_a_ready_archive_is_deleted_after_a_week_and_the_export_says_so(
    tenant_a: TenantFixture, settings: Settings
) -> None:
    status = await export_ready(tenant_a, settings)
    (archive,) = (settings.export_dir / str(tenant_a.id)).glob(f"*{status['id']}.zip")
    http = await tenant_a.client(Role.ADMIN)
    finished = datetime.fromisoformat(str(status["finished_at"]))

    await lifecycle_worker(tenant_a.db, settings.export_dir, finished + timedelta(days=6)).step()
    kept = archive.is_file()
    await lifecycle_worker(
        tenant_a.db, settings.export_dir, finished + KEEP_FOR + timedelta(seconds=1)
    ).step()

    assert kept
    assert not archive.exists()
    after = (await http.get(tenant_a.url(f"/exports/{status['id']}"))).json()
    assert after["status"] == "expired"
    download = await http.get(tenant_a.url(f"/exports/{status['id']}/download"))
    assert download.status_code == 409
    assert download.headers["content-type"] == "application/problem+json"
    assert (await http.post(tenant_a.url("/exports"))).status_code == 202


async def test_the_archive_is_one_snapshot_even_while_the_tenant_keeps_working(
    backend: str,
    tenant_a: TenantFixture,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend != "postgresql":
        # SQLite's export transaction holds the write lock: nobody can write during it.
        pytest.skip("concurrent writers during an export exist on PostgreSQL only")
    await make_customer(tenant_a, "Antes de exportar")
    original = export._write_users

    async def users_then_a_new_customer(session: AsyncSession, archive: ZipFile) -> int:
        # Written first; a customer committed now must not reach customers.jsonl, written later.
        written = await original(session, archive)
        if session.info[TENANT_KEY] == tenant_a.id:  # not another test's export left pending
            await make_customer(tenant_a, "Durante la exportación")
        return written

    monkeypatch.setattr(export, "_write_users", users_then_a_new_customer)

    status = await export_ready(tenant_a, settings)

    http = await tenant_a.client(Role.ADMIN)
    download = await http.get(tenant_a.url(f"/exports/{status['id']}/download"))
    tables, _ = read_archive(download.content)
    assert [c["display_name"] for c in tables["customers"]] == ["Antes de exportar"]
    listed = (await http.get(tenant_a.url("/customers"))).json()
    assert "Durante la exportación" in json.dumps(listed, ensure_ascii=False)
