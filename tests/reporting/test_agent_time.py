"""Occupancy and utilisation from presence facts and held work, per KPI.md."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from centralita.identity.permissions import Role
from centralita.reporting.agent_time import agent_time, record_presence_fact
from centralita.routing.models import Assignment
from tests.conftest import TenantFixture
from tests.reporting.helpers import Outcome, add_queue, agent_user, contact


async def test_concurrent_chats_count_once_and_away_time_is_outside_occupancy(
    tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await add_queue(tenant_a)
    ana = await agent_user(tenant_a, "Ana")
    zone = ZoneInfo(tenant_a.tenant.time_zone)
    day = datetime.now(zone).date() - timedelta(days=1)

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)

    works = [await contact(tenant_a, Outcome(answered_after=5), agent_id=ana) for _ in range(3)]
    async with tenant_a.db.system_session() as session:
        for when, presence in (
            (9, "available"),
            (10, "away"),
            (10.5, "available"),
            (12, "offline"),
        ):
            hour, minute = int(when), int(when % 1 * 60)
            record_presence_fact(session, ana, presence, at(hour, minute))
        # Two chats at once from 09:10 to 09:40 (30 minutes of handling), a call 11:00-11:30.
        for work, (start, end) in zip(
            works,
            ((at(9, 10), at(9, 30)), (at(9, 20), at(9, 40)), (at(11), at(11, 30))),
            strict=True,
        ):
            session.add(
                Assignment(
                    tenant_id=tenant_a.id, interaction_id=work, agent_user_id=ana, load="chat",
                    outcome="completed", offered_at=start, answered_at=start, released_at=end,
                )
            )  # fmt: skip
        await session.commit()

    async with tenant_a.db.tenant_session(tenant_a.id) as session:
        mine = await agent_time(session, tenant_a.id, ana, at(0), at(0) + timedelta(days=1), at(23))
    async with tenant_b.db.tenant_session(tenant_b.id) as session:
        elsewhere = await agent_time(
            session, tenant_b.id, ana, at(0), at(0) + timedelta(days=1), at(23)
        )

    assert mine.handling_seconds == 60 * 60
    assert mine.logged_in_seconds == 180 * 60
    assert mine.idle_seconds == 90 * 60
    assert mine.occupancy == pytest.approx(0.4)
    assert mine.utilisation == pytest.approx(1 / 3)
    # Presence is the agent's own; the work held is counted in its tenant only.
    assert elsewhere.logged_in_seconds == 180 * 60
    assert elsewhere.handling_seconds == 0


async def test_the_agent_report_carries_occupancy(tenant_a: TenantFixture) -> None:
    await add_queue(tenant_a)
    ana = await agent_user(tenant_a, "Ana")
    await contact(tenant_a, Outcome(answered_after=5), agent_id=ana)
    http = await tenant_a.client(Role.SUPERVISOR)

    (row,) = (await http.get(tenant_a.url("/reports/agents"))).json()["rows"]

    assert set(row) >= {"occupancy", "utilisation"}
