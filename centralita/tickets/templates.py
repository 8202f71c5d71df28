"""Incident models: fields a new ticket starts from, a checklist, and reply macros.

Macros are rendered by plain substitution of the known placeholders: a template is data a tenant
typed, never code, so nothing in it is evaluated and an unknown placeholder stays as written.
"""

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.models import Customer
from centralita.errors import FieldError, InvalidInput, NotFound
from centralita.events.service import Actor, apply_changes, record_audit
from centralita.identity.models import User
from centralita.tenancy.models import Tenant
from centralita.tickets.catalog import category_exists, flush_unique, refuse_invalid
from centralita.tickets.desk import Desk
from centralita.tickets.effects import requester_of
from centralita.tickets.fields import checked_custom_fields
from centralita.tickets.lifecycle import get_ticket
from centralita.tickets.models import TicketTemplate
from centralita.tickets.schemas import MacroRender, RenderedMacro
from centralita.tickets.setup_schemas import TemplateCreate, TemplateUpdate

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
LOCALES = ("es", "en")


async def list_templates(session: AsyncSession) -> list[TicketTemplate]:
    query = select(TicketTemplate).order_by(TicketTemplate.name)
    return list((await session.execute(query)).scalars())


async def find_template(session: AsyncSession, template_id: uuid.UUID) -> TicketTemplate | None:
    query = select(TicketTemplate).where(TicketTemplate.id == template_id)
    return (await session.execute(query)).scalar_one_or_none()


async def get_template(session: AsyncSession, template_id: uuid.UUID) -> TicketTemplate:
    template = await find_template(session, template_id)
    if template is None:
        raise NotFound("Template not found")
    return template


async def _checked(session: AsyncSession, sent: dict[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    if sent.get("category_id") is not None and not await category_exists(
        session, sent["category_id"]
    ):
        errors.append(FieldError("body.category_id", "No such category"))
    if "custom_fields" in sent:
        sent["custom_fields"], field_errors = await checked_custom_fields(
            session, {}, sent["custom_fields"]
        )
        errors.extend(field_errors)
    refuse_invalid(errors)
    return sent


async def create_template(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: TemplateCreate
) -> TicketTemplate:
    values = await _checked(session, data.model_dump())
    template = TicketTemplate(tenant_id=tenant_id, **values)
    session.add(template)
    await flush_unique(session, "template")
    record_audit(
        session, tenant_id, actor, "template.created", ("template", template.id), None, values
    )
    await session.flush()
    return template


async def update_template(
    session: AsyncSession, actor: Actor, template_id: uuid.UUID, data: TemplateUpdate
) -> TicketTemplate:
    template = await get_template(session, template_id)
    sent = await _checked(session, data.model_dump(exclude_unset=True))
    before, after = apply_changes(template, sent)
    if after:
        await flush_unique(session, "template")
        record_audit(
            session,
            template.tenant_id,
            actor,
            "template.updated",
            ("template", template.id),
            before,
            after,
        )
        await session.flush()
    return template


async def delete_template(session: AsyncSession, actor: Actor, template_id: uuid.UUID) -> None:
    template = await get_template(session, template_id)
    record_audit(
        session,
        template.tenant_id,
        actor,
        "template.deleted",
        ("template", template.id),
        {"name": template.name},
    )
    await session.delete(template)
    await session.flush()


def pick_locale(texts: dict[str, str], wanted: str | None, tenant: Tenant) -> str | None:
    """The locale to use from ``texts``: the one wanted, else the tenant's, else any there is."""
    for locale in (wanted, tenant.default_locale, *LOCALES):
        if locale is not None and locale in texts:
            return locale
    return next(iter(texts), None)


def customer_locale(customer: Customer) -> str | None:
    """The customer's language if the desk writes in it ("es-MX" → "es")."""
    language = (customer.language or "").split("-")[0]
    return language if language in LOCALES else None


def render(text: str, values: dict[str, str]) -> str:
    """Replace the known placeholders in one pass (a value is never read as a template)."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


async def render_macro(
    session: AsyncSession, desk: Desk, ticket_id: uuid.UUID, data: MacroRender
) -> RenderedMacro:
    """A template's macro filled in for a ticket, in the locale asked for, else the requester's
    language, else the tenant's."""
    ticket = await get_ticket(session, ticket_id)
    template = await find_template(session, data.template_id)
    if template is None:
        raise InvalidInput.on_field("body.template_id", "No such template")
    if data.index >= len(template.macros):
        count = len(template.macros)
        raise InvalidInput.on_field("body.index", f"The template has {count} macros")
    macro = template.macros[data.index]
    customer = await requester_of(session, ticket)
    locale = pick_locale(macro["body"], data.locale or customer_locale(customer), desk.tenant)
    agent_id = desk.actor.user_id or ticket.assignee_user_id
    agent = await session.get(User, agent_id) if agent_id else None
    values = {
        "ticket.number": desk.reference(ticket),
        "ticket.subject": ticket.subject,
        "agent.display_name": agent.display_name if agent else "",
        "customer.display_name": customer.display_name,
        "customer.preferred_name": customer.preferred_name or customer.display_name,
    }
    text = render(macro["body"][locale], values) if locale else ""
    return RenderedMacro(name=macro["name"], locale=locale or desk.tenant.default_locale, text=text)
