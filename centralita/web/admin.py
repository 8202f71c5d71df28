"""Administration of one client company: its settings, people, skills, queues, agents, business
calendars and SLA policies; rules, surveys and webhooks.

Pages list what exists (read through the domain services); their forms post JSON to the public
API through ``static/js/forms.js``, so the API's validation is the one that applies and its
problem+json field errors are shown beside the fields.

The rules, surveys and webhooks sections are pages of their own domains (``SECTION_PAGES``,
served from each domain's routes with :func:`open_section` and :func:`render_section`): those
domains import the web package for their texts and pages, so the web package cannot import them
back.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.db.scoping import use_system_scope
from centralita.errors import Forbidden, NotFound
from centralita.i18n import LOCALES, gettext_noop
from centralita.identity.permissions import Permission, Role
from centralita.identity.service import list_members
from centralita.interactions.models import Channel
from centralita.nlu import service as nlu_service
from centralita.nlu import trainer as nlu_trainer
from centralita.nlu import training as nlu_training
from centralita.routing import service as routing
from centralita.sla.business_time import WEEKDAYS
from centralita.sla.policies import list_calendars, list_policies
from centralita.tenancy.models import Tenant
from centralita.tenancy.service import list_tenants
from centralita.web.desk import SCRIPT_TEXTS, tenant_for, texts
from centralita.web.pages import SignedIn, SignedInPage, page_router

router = page_router()

SECTIONS = {
    "company": gettext_noop("Company"),
    "members": gettext_noop("Users and roles"),
    "skills": gettext_noop("Skills"),
    "queues": gettext_noop("Queues and overflow"),
    "agents": gettext_noop("Agents"),
    "calendars": gettext_noop("Business calendars"),
    "policies": gettext_noop("SLA policies"),
    "rules": gettext_noop("Rules"),
    "surveys": gettext_noop("Surveys"),
    "webhooks": gettext_noop("Webhooks"),
    "data": gettext_noop("Data and privacy"),
    "intents": gettext_noop("Intent recognition"),
}
# Sections served by their own domain's routes, at these addresses.
SECTION_PAGES = {
    "rules": "/admin/rules",
    "surveys": "/admin/surveys",
    "webhooks": "/admin/webhooks",
}

ROLE_NAMES = {
    Role.ADMIN: gettext_noop("Administrator"),
    Role.SUPERVISOR: gettext_noop("Supervisor"),
    Role.AGENT: gettext_noop("Agent"),
    Role.CLIENT_VIEWER: gettext_noop("Client manager"),
}

WEEKDAY_NAMES = {
    "mon": gettext_noop("Monday"),
    "tue": gettext_noop("Tuesday"),
    "wed": gettext_noop("Wednesday"),
    "thu": gettext_noop("Thursday"),
    "fri": gettext_noop("Friday"),
    "sat": gettext_noop("Saturday"),
    "sun": gettext_noop("Sunday"),
}
assert tuple(WEEKDAY_NAMES) == tuple(WEEKDAYS)

PRIORITIES = ("P1", "P2", "P3", "P4")

SectionData = Callable[[AsyncSession], Awaitable[dict[str, Any]]]
# The data of sections owned by packages that build on the web shell (web importing them would
# be a cycle): the application assembly registers them (see app.py).
SECTION_DATA: dict[str, SectionData] = {}

ADMIN_TEXTS = {
    "fix": gettext_noop("Please correct the following:"),
    "saved": gettext_noop("Saved."),
    "error": SCRIPT_TEXTS["error"],
    "bad_json": gettext_noop("This is not valid JSON."),
    "dry_run_summary": gettext_noop(
        "Events of the last day examined: %(events)s. The rule would have fired on: %(matches)s."
    ),
    "dry_run_none": gettext_noop("It would not have fired on any of them."),
    "training_step": gettext_noop("%(step)s: %(done)s of %(total)s"),
    "training_queued": gettext_noop("Waiting for the trainer…"),
}

DELIVERY_STATUS_NAMES = {
    "pending": gettext_noop("Being sent"),
    "delivered": gettext_noop("Delivered"),
    "failed": gettext_noop("Failed"),
}
# The trainer's steps (centralita/nlu/classifier.py), as the progress bar names them.
TRAINING_STEPS = {
    "n-grams": gettext_noop("Words and letters"),
    "embeddings": gettext_noop("Sentence meaning"),
    "model": gettext_noop("Model"),
}

TRAINING_STATES = {
    "queued": gettext_noop("Queued"),
    "running": gettext_noop("Training"),
    "succeeded": gettext_noop("Trained"),
    "failed": gettext_noop("Failed"),
}


async def _managed_tenants(page: SignedIn) -> list[Tenant]:
    principal = page.principal
    ids = None if principal.is_platform_admin else set(principal.roles)
    return [
        tenant
        for tenant in await list_tenants(page.session, ids)
        if principal.can(tenant.id, Permission.TENANT_MANAGE)
    ]


async def _section_data(page: SignedIn, section: str) -> dict[str, Any]:
    session = page.session
    if section == "members":
        return {"members": await list_members(session)}
    if section == "skills":
        return {"skills": await routing.list_skills(session)}
    if section == "queues":
        return {"queues": await routing.list_queues(session)}
    if section == "agents":
        return {
            "agents": await routing.list_agents(session),
            "skills": await routing.list_skills(session),
        }
    if section == "calendars":
        return {"calendars": await list_calendars(session)}
    if section == "policies":
        calendars = await list_calendars(session)
        return {
            "policies": await list_policies(session),
            "calendars": calendars,
            "calendar_names": {c.id: c.name for c in calendars},
        }
    if section in SECTION_DATA:
        return await SECTION_DATA[section](session)
    if section == "intents":
        runs = await nlu_trainer.list_runs(session, limit=5)
        versions = await nlu_training.list_versions(session)
        routes = {r.intent: r for r in await nlu_service.list_routes(session)}
        counts = await nlu_training.example_counts(session)
        return {
            # Every intent that has a route or examples: (name, its route or None, examples).
            "intents": [(i, routes.get(i), counts.get(i, 0)) for i in sorted({*routes, *counts})],
            "accuracy": {v.version: v.metrics.get("in_scope_accuracy") for v in versions},
            "training_runs": runs,
            "training_now": next((r for r in runs if r.state in ("queued", "running")), None),
        }
    return {}


async def open_section(page: SignedIn, tenant_slug: str) -> tuple[Tenant, list[Tenant]]:
    """The company being administered (the session scoped to it) and the others the viewer
    administers."""
    tenants = await _managed_tenants(page)
    if not tenants:
        raise Forbidden("Only administrators open the administration")
    return await tenant_for(page, tenant_slug, Permission.TENANT_MANAGE), tenants


async def render_section(
    page: SignedIn,
    tenant: Tenant,
    tenants: list[Tenant],
    section: str,
    template: str,
    context: dict[str, Any],
) -> Response:
    """A section page inside the administration's frame (title, company switch, section list)."""
    await use_system_scope(page.session)
    return page.render(
        template,
        {
            **context,
            "tenant": tenant,
            "tenants": tenants,
            "section": section,
            "sections": SECTIONS,
            "section_pages": SECTION_PAGES,
            "script_texts": texts(page, ADMIN_TEXTS),
        },
    )


@router.get("/admin")
async def administration(
    page: SignedInPage,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
    section: Annotated[str, Query(max_length=20)] = "company",
) -> Response:
    tenants = await _managed_tenants(page)
    if not tenants:
        raise Forbidden("Only administrators open the administration")
    if tenant is None:
        return page.redirect(f"/admin?tenant={tenants[0].slug}")
    if section in SECTION_PAGES:
        return page.redirect(f"{SECTION_PAGES[section]}?tenant={quote(tenant)}")
    if section not in SECTIONS:
        raise NotFound("No such section")
    found = await tenant_for(page, tenant, Permission.TENANT_MANAGE)
    context = await _section_data(page, section)
    await use_system_scope(page.session)
    return page.render(
        "admin.html",
        {
            **context,
            "tenant": found,
            "tenants": tenants,
            "section": section,
            "sections": SECTIONS,
            "section_pages": SECTION_PAGES,
            "roles": ROLE_NAMES,
            "channels": list(Channel),
            "locales": LOCALES,
            "weekdays": WEEKDAY_NAMES,
            "priorities": PRIORITIES,
            "training_states": TRAINING_STATES,
            "training_steps": TRAINING_STEPS,
            "is_platform_admin": page.principal.is_platform_admin,
            "script_texts": texts(
                page, ADMIN_TEXTS | {f"step_{k}": v for k, v in TRAINING_STEPS.items()}
            ),
        },
    )
