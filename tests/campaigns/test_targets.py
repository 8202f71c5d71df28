"""A campaign's targets from an uploaded CSV: broken rows reported, good rows imported."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from centralita.channels.models import AddressChannel
from centralita.customers.models import Customer
from centralita.identity.permissions import Role
from tests.campaigns.conftest import KeyedProvider, dispatcher, make_campaign, results, start
from tests.campaigns.test_dispatch import ALWAYS, fixed
from tests.channels.telephony import add_number, new_number
from tests.conftest import TenantFixture

HEADER = "phone,email,name,language,time_zone,sms_consent,oficina\n"
ROWS = [
    "+34 600 700 001,lucia@cliente.example,Lucía Pérez,es,Europe/Madrid,sí,Gran Vía\n",  # row 2
    "600700002,,Ana,en,,yes,Sol\n",  # row 3: a local number in the tenant's country
    "+34600700003,,Sin columnas suficientes\n",  # row 4: too few cells
    "12345,,Teléfono malo,es,,yes,Sol\n",  # row 5: not a phone
    ",no-es-un-correo,Correo malo,es,,yes,Sol\n",  # row 6: not an email
    ",,Nadie,es,,yes,Sol\n",  # row 7: neither
    "+34600700008,,Zona mala,es,Marte/Olympus,yes,Sol\n",  # row 8: unknown time zone
    '+34600700009,,=HYPERLINK("http://x.example"),es,,yes,Sol\n',  # row 9: a formula
    "+34 600 700 001,,Repetida,es,,yes,Sol\n",  # row 10: the customer of row 2 again
    "+34600700011,,Consentimiento raro,es,,quizás,Sol\n",  # row 11: not yes or no
]
LATIN = "+34600700012,,José Muñoz,es,,no,Cádiz\n".encode("cp1252")  # row 12


async def test_broken_rows_are_reported_and_the_good_ones_imported(
    tenant_a: TenantFixture, keyed_provider: KeyedProvider
) -> None:
    await add_number(tenant_a, AddressChannel.SMS, new_number())
    http = await tenant_a.client(Role.ADMIN)
    campaign = await make_campaign(
        tenant_a,
        allowed_hours=ALWAYS,
        templates={"sms": {"es": "Hola {name}, le esperamos en {oficina}."}},
    )
    body = (HEADER + "".join(ROWS)).encode() + LATIN

    uploaded = await http.post(
        tenant_a.url(f"/campaigns/{campaign['id']}/targets"),
        params={"filename": "clientes.csv"},
        content=body,
        headers={"Content-Type": "text/csv"},
    )

    assert uploaded.status_code == 201, uploaded.text
    report = uploaded.json()
    assert (report["rows_read"], report["rows_imported"], report["rows_rejected"]) == (11, 4, 7)
    assert (report["read_bytes"], report["total_bytes"]) == (len(body), len(body))
    assert report["finished"] is True
    errors = {e["row"]: " ".join(e["errors"]) for e in report["row_errors"]}
    assert sorted(errors) == [4, 5, 6, 7, 8, 10, 11]
    assert "expected 7 cells, found 3" in errors[4]
    assert errors[5].startswith("phone:")
    assert errors[6].startswith("email:")
    assert "neither a phone nor an email" in errors[7]
    assert "time_zone" in errors[8]
    assert "already in the campaign" in errors[10]
    assert "sms_consent" in errors[11]
    notes = {n["row"]: n["notes"] for n in report["row_notes"]}
    assert notes[9] == ["name: a formula-looking cell was neutralised"]
    assert notes[12] == ["read as Windows-1252"]
    listed = await http.get(tenant_a.url(f"/campaigns/{campaign['id']}/imports"))
    assert [i["id"] for i in listed.json()] == [report["id"]]

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        names = set((await session.execute(select(Customer.display_name))).scalars())
    assert {"Lucía Pérez", "Ana", "José Muñoz", '\'=HYPERLINK("http://x.example")'} <= names

    await start(tenant_a, campaign["id"])
    when = datetime.now(UTC) + timedelta(minutes=1)
    await dispatcher(tenant_a.db, keyed_provider, fixed(when)).step()

    # José said no to SMS in the file; the other three agreed.
    assert sorted((m["To"], m["Body"]) for m in keyed_provider.messages.values()) == [
        ("+34600700001", "Hola Lucía Pérez, le esperamos en Gran Vía."),
        ("+34600700002", "Hola Ana, le esperamos en Sol."),
        ("+34600700009", 'Hola \'=HYPERLINK("http://x.example"), le esperamos en Sol.'),
    ]
    found = await results(tenant_a, campaign["id"])
    assert found["totals"]["sent"] == 3
    assert found["skipped_by_reason"] == {"opted_out": 1}


async def test_a_file_that_is_not_a_target_list_is_refused_whole(tenant_a: TenantFixture) -> None:
    http = await tenant_a.client(Role.ADMIN)
    campaign = await make_campaign(tenant_a)
    for content in (b"", b"nombre,apellido\nAna,Sol\n"):
        refused = await http.post(
            tenant_a.url(f"/campaigns/{campaign['id']}/targets"),
            content=content,
            headers={"Content-Type": "text/csv"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    listed = await http.get(tenant_a.url(f"/campaigns/{campaign['id']}/imports"))
    assert listed.json() == []
