"""A tenant's reporting settings: one row, created with the defaults on first change."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.events.service import Actor, record_audit
from centralita.reporting.models import ReportSettings
from centralita.reporting.schemas import ReportSettingsUpdate

DEFAULTS = ReportSettings(
    short_abandon_seconds=5,
    fcr_days=7,
    cost_per_agent_hour=None,
    currency="EUR",
    show_agent_names_to_clients=False,
    weekly_report=False,
)


async def report_settings(session: AsyncSession) -> ReportSettings:
    """The scoped tenant's settings, or the defaults (not added to the session) when unset."""
    found = (await session.execute(select(ReportSettings))).scalar_one_or_none()
    return found if found is not None else DEFAULTS


async def update_settings(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, data: ReportSettingsUpdate
) -> ReportSettings:
    found = (await session.execute(select(ReportSettings).with_for_update())).scalar_one_or_none()
    if found is None:
        found = ReportSettings(
            tenant_id=tenant_id,
            short_abandon_seconds=DEFAULTS.short_abandon_seconds,
            fcr_days=DEFAULTS.fcr_days,
            cost_per_agent_hour=None,
            currency=DEFAULTS.currency,
            show_agent_names_to_clients=False,
            weekly_report=False,
        )
        session.add(found)
    before = _snapshot(found)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(found, name, value)
    await session.flush()
    entity = ("reporting_settings", tenant_id)
    record_audit(
        session, tenant_id, actor, "reporting.settings_updated", entity, before, _snapshot(found)
    )
    return found


def _snapshot(settings: ReportSettings) -> dict[str, object]:
    return {
        "short_abandon_seconds": settings.short_abandon_seconds,
        "fcr_days": settings.fcr_days,
        "cost_per_agent_hour": settings.cost_per_agent_hour,
        "currency": settings.currency,
        "show_agent_names_to_clients": settings.show_agent_names_to_clients,
        "weekly_report": settings.weekly_report,
    }
