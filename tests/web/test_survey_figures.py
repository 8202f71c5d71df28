"""Survey answers where people look: the latest CSAT/NPS on the desk's customer 360, and today's
CSAT and NPS per queue and per agent on the wallboard, by KPI.md's formulas (both backends)."""

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from centralita.config import Settings
from centralita.db.base import new_id, utcnow
from centralita.identity.models import User
from centralita.identity.permissions import Role
from centralita.interactions.models import Interaction
from centralita.routing.stats import start_of_day
from centralita.surveys.models import Survey, SurveyInvitation, SurveyResponse
from centralita.web.desk_data import customer_panel
from centralita.web.survey_answers import latest_answer, satisfaction_since
from tests.conftest import TenantFixture
from tests.routing.world import World, agent_client, make_world
from tests.web.helpers import make_user, post_login

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def world(tenant_a: TenantFixture, tenant_b: TenantFixture, settings: Settings) -> World:
    return await make_world(tenant_a, settings)


class Answers:
    """Stores survey answers for a world's contacts the way the answer form does."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.survey_id: uuid.UUID | None = None

    async def _survey(self) -> uuid.UUID:
        if self.survey_id is None:
            self.survey_id = new_id()
            async with self.world.db.tenant_session(self.world.tenant.id) as session:
                session.add(Survey(id=self.survey_id, name="Tras el contacto", ask_nps=True))
                await session.commit()
        return self.survey_id

    async def invite(
        self,
        interaction_id: uuid.UUID,
        *,
        agent: User | None = None,
        language: str = "es",
        at: datetime | None = None,
    ) -> SurveyInvitation:
        """The invitation a finished contact gets; ``at`` set, it has been answered then."""
        world = self.world
        survey_id = await self._survey()
        work = await world.interaction(interaction_id)
        async with world.db.tenant_session(world.tenant.id) as session:
            invitation = SurveyInvitation(
                id=new_id(),
                survey_id=survey_id,
                interaction_id=work.id,
                customer_id=work.customer_id,
                agent_id=agent.id if agent else None,
                queue=work.queue,
                channel=work.channel,
                language=language,
                expires_at=(at or utcnow()) + timedelta(days=3),
                answered_at=at,
            )
            session.add(invitation)
            await session.commit()
        return invitation

    async def give(
        self,
        interaction_id: uuid.UUID,
        csat: int | None,
        nps: int | None,
        *,
        agent: User | None = None,
        comment: str | None = None,
        language: str = "es",
        at: datetime | None = None,
        low: bool = False,
    ) -> None:
        when = at or utcnow()
        invitation = await self.invite(interaction_id, agent=agent, language=language, at=when)
        async with self.world.db.tenant_session(self.world.tenant.id) as session:
            session.add(
                SurveyResponse(
                    id=new_id(),
                    invitation_id=invitation.id,
                    survey_id=invitation.survey_id,
                    interaction_id=invitation.interaction_id,
                    customer_id=invitation.customer_id,
                    agent_id=invitation.agent_id,
                    queue=invitation.queue,
                    channel=invitation.channel,
                    csat=csat,
                    nps=nps,
                    answers={},
                    comment=comment,
                    language=language,
                    low=low,
                    created_at=when,
                )
            )
            await session.commit()


async def _same_customer(world: World, first: uuid.UUID) -> uuid.UUID:
    """Another contact of the customer of ``first``."""
    later = await world.arrive()
    customer_id = (await world.interaction(first)).customer_id
    async with world.db.tenant_session(world.tenant.id) as session:
        await session.execute(
            update(Interaction).where(Interaction.id == later).values(customer_id=customer_id)
        )
        await session.commit()
    return later


async def test_the_360_shows_the_latest_scored_answer_with_its_comment(world: World) -> None:
    answers = Answers(world)
    agent = await world.agent(name="Ana Agente")
    first = await world.arrive()
    second = await _same_customer(world, first)
    third = await _same_customer(world, first)
    now = utcnow()
    await answers.give(first, 5, 10, at=now - timedelta(days=20), comment="Muy bien")
    await answers.give(second, 2, 3, agent=agent, at=now - timedelta(days=2), comment=XSS, low=True)
    # An answer to the extra questions only carries no CSAT or NPS to show.
    await answers.give(third, None, None, at=now - timedelta(hours=1), language="en")
    customer_id = (await world.interaction(first)).customer_id

    async with world.db.tenant_session(world.tenant.id) as session:
        latest = await latest_answer(session, world.tenant.id, customer_id)
        panel = await customer_panel(session, third)
        elsewhere = await latest_answer(session, uuid.uuid4(), customer_id)

    assert latest is not None
    assert (latest.csat, latest.nps, latest.comment, latest.low) == (2, 3, XSS, True)
    assert latest.answered_at == now - timedelta(days=2)
    assert panel.latest_survey == latest
    assert elsewhere is None

    await world.start_router()
    await world.step()
    http = await agent_client(world, agent)
    page = await http.get(
        "/agent/panel",
        params={"tenant": world.tenant.slug, "interaction": str(third), "lang": "es"},
    )
    assert page.status_code == 200, page.text
    assert "Última encuesta" in page.text
    assert "2 de 5" in page.text
    assert "3 de 10" in page.text
    assert "Puntuación baja" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert XSS not in page.text


async def test_a_customer_never_surveyed_shows_no_answer(world: World) -> None:
    work = await world.arrive()
    async with world.db.tenant_session(world.tenant.id) as session:
        panel = await customer_panel(session, work)
    assert panel.latest_survey is None


async def test_the_wallboard_measures_today_per_queue_and_agent(
    world: World, tenant_b: TenantFixture, client: httpx.AsyncClient
) -> None:
    answers = Answers(world)
    ana = await world.agent(name="Ana Agente")
    luis = await world.agent(name="Luis López")
    today = start_of_day(world.tenant.tenant, utcnow())
    for csat, nps, agent in [(5, 10, ana), (4, 9, ana), (2, 5, luis), (3, 7, None)]:
        await answers.give(await world.arrive(), csat, nps, agent=agent)
    # Yesterday's answer does not count today.
    await answers.give(await world.arrive(), 1, 0, agent=luis, at=today - timedelta(minutes=1))

    async with world.db.tenant_session(world.tenant.id) as session:
        figures = await satisfaction_since(session, world.tenant.id, today)
        foreign = await satisfaction_since(session, tenant_b.id, today)

    queue = figures.by_queue[world.queue.name]
    assert (queue.answers, queue.csat_percent, queue.nps) == (4, 50.0, 25.0)
    assert (figures.by_agent[ana.id].csat_percent, figures.by_agent[ana.id].nps) == (100.0, 100.0)
    assert (figures.by_agent[luis.id].csat_percent, figures.by_agent[luis.id].nps) == (0.0, -100.0)
    assert foreign.by_queue == {}
    assert foreign.by_agent == {}
    # The surveys API gives the same figures: one implementation of KPI.md's formulas.
    http = await world.tenant.client()
    api = await http.get(
        world.tenant.url("/survey-results"),
        params={"since": today.isoformat(), "queue": world.queue.name},
    )
    assert api.json() == {
        "answers": 4,
        "csat_answers": 4,
        "csat_percent": 50.0,
        "nps_answers": 4,
        "nps": 25.0,
    }

    email = await make_user(world.tenant.app, world.db, [(world.tenant, Role.SUPERVISOR)])
    assert (await post_login(client, email)).status_code == 303
    live = await client.get(f"/supervisor/live?tenant={world.tenant.slug}&lang=en")
    assert live.status_code == 200, live.text
    assert "CSAT today" in live.text
    assert "NPS today" in live.text
    assert '<dd data-field="csat">50% <span class="muted">(4)</span></dd>' in live.text
    assert '<dd data-field="nps">+25 <span class="muted">(4)</span></dd>' in live.text
    assert '+100 <span class="muted">(2)</span>' in live.text
    assert '-100 <span class="muted">(1)</span>' in live.text
