"""Demo traffic's chats go through the chat adapter: a returning visitor, known by email."""

from sqlalchemy import select

from centralita.config import Settings
from centralita.customers.models import CustomerIdentity, IdentityKind
from centralita.customers.service import IdentityRules, find_or_create
from centralita.demo_routing import DemoTraffic
from centralita.interactions.models import Channel, Interaction
from tests.channels.chat.conftest import add_widget
from tests.conftest import TenantFixture


async def test_a_demo_chat_is_a_real_conversation_of_the_known_customer(
    tenant_a: TenantFixture, settings: Settings
) -> None:
    widget = await add_widget(tenant_a, None)
    rules = IdentityRules.for_tenant(tenant_a.tenant, settings.secret_key)
    traffic = DemoTraffic(tenant_a.db, settings, seed=1)
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        known = await find_or_create(
            session, tenant_a.id, IdentityKind.EMAIL, "eva@example.com", "Eva"
        )
        for _ in range(2):
            await traffic._chat(session, tenant_a.tenant, widget, known.customer, rules)
        await session.commit()
        chats = (
            (await session.execute(select(Interaction).where(Interaction.channel == Channel.CHAT)))
            .scalars()
            .all()
        )
        kinds = (
            (
                await session.execute(
                    select(CustomerIdentity.kind).where(
                        CustomerIdentity.customer_id == known.customer.id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(chats) == 2
    assert {c.customer_id for c in chats} == {known.customer.id}
    assert all(c.external_ref and c.external_ref.startswith("chat-") for c in chats)
    assert sorted(kinds) == ["chat", "email"]
