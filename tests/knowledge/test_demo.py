"""The demo's knowledge bases: published in both languages and found the way customers ask."""

import httpx
import pytest

from centralita.knowledge.demo import KNOWLEDGE, seed_knowledge
from tests.conftest import TEST_ACTOR, TenantFixture
from tests.knowledge.helpers import titles


@pytest.mark.parametrize(
    ("slug", "query", "locale", "expected"),
    [
        ("banco-horizonte", "me robaron la tarjeta", "es", "Bloquear una tarjeta perdida o robada"),
        ("banco-horizonte", "olvide mi clave", "es", "Recuperar la contraseña de la banca online"),
        ("movilia", "robaron mi celular", "es", "Reportar un celular robado"),
        ("bloom-flowers", "flowers wilted", "en", "Wilted or damaged flowers"),
    ],
)
async def test_demo_articles_answer_customers_questions(
    tenant_a: TenantFixture,
    client: httpx.AsyncClient,
    slug: str,
    query: str,
    locale: str,
    expected: str,
) -> None:
    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        made = await seed_knowledge(session, TEST_ACTOR, tenant_a.id, slug, locale)
        await session.commit()

    found = await titles(await tenant_a.client(), tenant_a, query, locale=locale)
    portal = await client.get(f"/help/{tenant_a.slug}", params={"q": query, "lang": locale})

    assert made == 2 * len(KNOWLEDGE[slug])
    assert found[0] == expected
    assert expected in portal.text
