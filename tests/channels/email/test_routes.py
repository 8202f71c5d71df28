"""What an agent and an operator read of stored email through the API."""

from sqlalchemy import select

from centralita.channels.email.models import EmailRecord
from centralita.identity.permissions import Role
from tests.channels.email.conftest import Listener, add_mailbox, corpus, unique_address
from tests.conftest import TenantFixture


async def test_an_agent_reads_an_email_and_its_attachments_and_an_admin_its_raw_form(
    listener: Listener, tenant_a: TenantFixture
) -> None:
    box = unique_address()
    await add_mailbox(tenant_a, box)
    await listener.send(corpus("nested_multipart.eml"), [box])
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        record = (await session.execute(select(EmailRecord))).scalar_one()
    agent = await tenant_a.client(Role.AGENT)

    listed = await agent.get(
        tenant_a.url("/email/messages"), params={"ticket_id": str(record.ticket_id)}
    )
    detail = await agent.get(tenant_a.url(f"/email/messages/{record.id}"))

    assert [item["id"] for item in listed.json()["items"]] == [str(record.id)]
    body = detail.json()
    assert body["visible_text"] == "El paquete llegó roto. Adjunto las fotos y el albarán."
    assert "<em>roto</em>" in body["html"]
    by_name = {a["filename"]: a for a in body["attachments"]}
    assert set(by_name) == {"albarán.pdf", "attachment.gif", "message.eml"}
    pdf = await agent.get(tenant_a.url(f"/email/attachments/{by_name['albarán.pdf']['id']}"))
    assert pdf.content == b"%PDF-1.4\n"
    assert pdf.headers["content-type"] == "application/pdf"
    forwarded = await agent.get(tenant_a.url(f"/email/attachments/{by_name['message.eml']['id']}"))
    # Anything a browser could run is a download, never a page of our origin.
    assert forwarded.headers["content-type"] == "application/octet-stream"
    assert forwarded.headers["content-disposition"].startswith("attachment;")

    refused = await agent.get(tenant_a.url(f"/email/messages/{record.id}/raw"))
    raw = await (await tenant_a.client(Role.ADMIN)).get(
        tenant_a.url(f"/email/messages/{record.id}/raw")
    )

    assert refused.status_code == 403
    assert raw.status_code == 200
    assert raw.content == corpus("nested_multipart.eml")
    assert raw.headers["content-type"] == "message/rfc822"


async def test_a_bad_status_filter_is_a_clear_error(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client()

    response = await http.get(tenant_a.url("/email/messages"), params={"status": "lost"})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
