import asyncio
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from centralita.customers import service
from centralita.customers.models import Customer, CustomerIdentity, IdentityKind, ValueTier
from centralita.customers.schemas import CustomerCreate, CustomerUpdate, IdentityCreate
from centralita.customers.service import IdentityRules
from centralita.db.engine import Database
from centralita.errors import Conflict, InvalidInput, NotFound
from centralita.events.models import AuditEntry
from tests.conftest import TEST_ACTOR, TenantFixture

SECRET = "test-secret"


def rules_for(tenant: TenantFixture) -> IdentityRules:
    return IdentityRules.for_tenant(tenant.tenant, SECRET)


async def create(tenant: TenantFixture, name: str, *identities: tuple[str, str], **fields: object):
    data = CustomerCreate.model_validate(
        {
            "display_name": name,
            "identities": [{"kind": k, "value": v} for k, v in identities],
            **fields,
        }
    )
    async with tenant.db.tenant_session(tenant.id) as session:
        customer = await service.create_customer(
            session, TEST_ACTOR, tenant.id, rules_for(tenant), data
        )
        await session.commit()
    return customer


async def count_customers(db: Database, tenant_id: uuid.UUID) -> int:
    async with db.tenant_session(tenant_id) as session:
        return (await session.execute(select(func.count()).select_from(Customer))).scalar_one()


async def test_two_simultaneous_requests_for_one_new_phone_make_one_customer(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    phone = service.normalise_identity(IdentityKind.PHONE, "611 22 33 44", rules_for(tenant_a))

    async def resolve() -> service.Resolved:
        async with tenant_a.db.tenant_session(tenant_a.id) as session:
            resolved = await service.find_or_create(session, tenant_a.id, IdentityKind.PHONE, phone)
            await session.commit()
            return resolved

    first, second = await asyncio.gather(resolve(), resolve())

    assert first.customer.id == second.customer.id
    assert sorted([first.created, second.created]) == [False, True]
    assert await count_customers(tenant_a.db, tenant_a.id) == 1
    assert await count_customers(tenant_b.db, tenant_b.id) == 0


@pytest.mark.parametrize("typed", ["+34 600 12 34 56", "600123456", "0034600123456"])
async def test_a_phone_in_any_common_format_finds_the_customer(
    tenant_a: TenantFixture, typed: str
) -> None:
    customer = await create(tenant_a, "Lucía Pérez", ("phone", "+34600123456"))
    await create(tenant_a, "Someone Else", ("phone", "+34600999999"))

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        found = await service.search_customers(session, rules_for(tenant_a), typed, None)

    assert [c.id for c in found.items] == [customer.id]


async def test_search_ignores_accents_and_case_and_other_tenants(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    mine = await create(tenant_a, "José Núñez")
    await create(tenant_b, "José Núñez")

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        by_surname = await service.search_customers(session, rules_for(tenant_a), "NUNEZ", None)
        by_first = await service.search_customers(session, rules_for(tenant_a), "jose", None)

    assert [c.id for c in by_surname.items] == [mine.id]
    assert [c.id for c in by_first.items] == [mine.id]


async def test_search_pages_through_every_customer_once(tenant_a: TenantFixture) -> None:
    made = {(await create(tenant_a, f"Cliente {n}")).id for n in range(5)}
    seen: list[uuid.UUID] = []
    cursor = None

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        while True:
            page = await service.search_customers(
                session, rules_for(tenant_a), "cliente", cursor, limit=2
            )
            seen.extend(c.id for c in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

    assert len(seen) == 5
    assert set(seen) == made


async def test_create_refuses_an_identity_held_by_another_customer(
    tenant_a: TenantFixture,
) -> None:
    holder = await create(tenant_a, "Ana", ("email", "Ana@Example.com"))

    with pytest.raises(Conflict) as raised:
        await create(tenant_a, "Impostor", ("email", "ana@example.COM"))

    assert str(holder.id) in raised.value.detail
    assert await count_customers(tenant_a.db, tenant_a.id) == 1


async def test_invalid_identity_is_reported_on_its_field(tenant_a: TenantFixture) -> None:
    with pytest.raises(InvalidInput) as raised:
        await create(tenant_a, "Bad", ("email", "ok@example.com"), ("phone", "12"))

    assert [e.field for e in raised.value.errors] == ["body.identities.1.value"]


async def test_pin_is_stored_as_a_keyed_hash(tenant_a: TenantFixture) -> None:
    customer = await create(tenant_a, "Pin Holder", ("pin", "4321"))

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        (identity,) = await service.list_identities(session, customer.id)
        hashed = service.normalise_identity(IdentityKind.PIN, "4321", rules_for(tenant_a))
        found = await service.find_by_identity(session, IdentityKind.PIN, hashed)

    assert identity.value != "4321"
    assert "4321" not in identity.value
    assert found is not None
    assert found.id == customer.id


async def test_update_keeps_search_name_in_sync_and_audits_only_changes(
    tenant_a: TenantFixture,
) -> None:
    customer = await create(tenant_a, "Maria", segment="retail")

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await service.update_customer(
            session,
            TEST_ACTOR,
            customer.id,
            CustomerUpdate(display_name="María Gómez", segment="retail"),
        )
        await session.commit()
        found = await service.search_customers(session, rules_for(tenant_a), "gomez", None)
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "customer.updated"))
        ).scalar_one()

    assert [c.id for c in found.items] == [customer.id]
    assert entry.before == {"display_name": "Maria"}
    assert entry.after == {"display_name": "María Gómez"}


async def test_merge_moves_identities_completes_profile_and_marks_source(
    tenant_a: TenantFixture,
) -> None:
    survivor = await create(tenant_a, "Pedro", ("phone", "600111111"), tags=["vip"])
    source = await create(
        tenant_a,
        "Pedro R.",
        ("email", "pedro@example.com"),
        tags=["vip", "moroso"],
        language="es",
        value_tier="gold",
        lifetime_value="10.50",
    )

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        merged = await service.merge_customers(session, TEST_ACTOR, survivor.id, source.id)
        await session.commit()
        identities = await service.list_identities(session, survivor.id)
        left_behind = await service.get_customer(session, source.id)

    assert {i.kind for i in identities} == {IdentityKind.PHONE, IdentityKind.EMAIL}
    assert merged.tags == ["vip", "moroso"]
    assert merged.language == "es"
    assert merged.value_tier == ValueTier.GOLD
    assert merged.lifetime_value == Decimal("10.50")
    assert left_behind.merged_into_id == survivor.id


async def test_merging_a_merged_target_again_repoints_earlier_merges(
    tenant_a: TenantFixture,
) -> None:
    first = await create(tenant_a, "First")
    middle = await create(tenant_a, "Middle")
    last = await create(tenant_a, "Last")

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        await service.merge_customers(session, TEST_ACTOR, middle.id, first.id)
        await service.merge_customers(session, TEST_ACTOR, last.id, middle.id)
        await session.commit()
        chain = [
            (await service.get_customer(session, c.id)).merged_into_id for c in (first, middle)
        ]

    assert chain == [last.id, last.id]


async def test_merge_refuses_itself_a_merged_customer_and_another_tenants_customer(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    one = await create(tenant_a, "One")
    two = await create(tenant_a, "Two")
    foreign = await create(tenant_b, "Foreign", ("phone", "600222333"))

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        with pytest.raises(InvalidInput):
            await service.merge_customers(session, TEST_ACTOR, one.id, one.id)
        with pytest.raises(InvalidInput):
            await service.merge_customers(session, TEST_ACTOR, one.id, foreign.id)
        with pytest.raises(NotFound):
            await service.merge_customers(session, TEST_ACTOR, foreign.id, one.id)
        await service.merge_customers(session, TEST_ACTOR, one.id, two.id)
        with pytest.raises(Conflict):
            await service.merge_customers(session, TEST_ACTOR, two.id, one.id)
        await session.commit()

    async with tenant_b.db.tenant_session(tenant_b.id) as session:
        foreign_identities = await service.list_identities(session, foreign.id)
        assert (await service.get_customer(session, foreign.id)).merged_into_id is None
    assert len(foreign_identities) == 1


async def test_identity_added_to_one_customer_cannot_be_added_to_another(
    tenant_a: TenantFixture,
) -> None:
    ana = await create(tenant_a, "Ana")
    eva = await create(tenant_a, "Eva")
    chat = IdentityCreate(kind=IdentityKind.CHAT, value="visitor-42")

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        added = await service.add_identity(session, TEST_ACTOR, rules_for(tenant_a), ana.id, chat)
        again = await service.add_identity(session, TEST_ACTOR, rules_for(tenant_a), ana.id, chat)
        with pytest.raises(Conflict):
            await service.add_identity(session, TEST_ACTOR, rules_for(tenant_a), eva.id, chat)
        count = (
            await session.execute(select(func.count()).select_from(CustomerIdentity))
        ).scalar_one()

    assert again.id == added.id
    assert count == 1
