"""The desk a ticket operation runs at: the tenant, who acts, and what the tenant's settings say."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from centralita.customers.service import IdentityRules
from centralita.events.service import Actor
from centralita.tenancy.models import Tenant
from centralita.tickets.models import Ticket, TicketSettings
from centralita.tickets.settings import reference, tenant_with_settings, ticket_settings

# Notes the desk writes into tickets itself, in the tenant's language.
NOTES: dict[str, dict[str, str]] = {
    "resolved_with_parent": {
        "en": "Resolved together with {parent}.",
        "es": "Resuelto junto con {parent}.",
    },
    "merged_in": {
        "en": "{source} was merged into this ticket.",
        "es": "{source} se ha fusionado con este ticket.",
    },
    "merged_away": {"en": "Merged into {survivor}.", "es": "Fusionado con {survivor}."},
    "follow_up": {
        "en": "The customer wrote again about {previous}, which was already closed.",
        "es": "El cliente ha vuelto a escribir sobre {previous}, que ya estaba cerrado.",
    },
    "checklist": {"en": "Checklist:", "es": "Lista de comprobación:"},
}


@dataclass(frozen=True)
class Desk:
    tenant: Tenant
    actor: Actor
    # Routable work is created for a customer id only; the rules are what creating it asks for.
    rules: IdentityRules
    settings: TicketSettings

    @property
    def prefix(self) -> str:
        return self.settings.prefix

    def reference(self, ticket: Ticket) -> str:
        return reference(self.prefix, ticket.number)

    def note(self, key: str, **values: str) -> str:
        texts = NOTES[key]
        return texts.get(self.tenant.default_locale, texts["en"]).format(**values)


async def open_desk(
    session: AsyncSession, tenant: Tenant, actor: Actor, rules: IdentityRules
) -> Desk:
    return Desk(tenant, actor, rules, await ticket_settings(session, tenant))


async def open_tenant_desk(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, pin_key: str
) -> Desk:
    """The desk of the tenant with this id, tenant and settings read in one round trip."""
    tenant, settings = await tenant_with_settings(session, tenant_id)
    return Desk(tenant, actor, IdentityRules.for_tenant(tenant, pin_key), settings)
