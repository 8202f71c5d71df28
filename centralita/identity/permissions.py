"""The one table that decides who may do what in a tenant."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    CLIENT_VIEWER = "client_viewer"


class Permission(StrEnum):
    TENANT_READ = "tenant.read"
    TENANT_MANAGE = "tenant.manage"
    MEMBERS_MANAGE = "members.manage"
    TOKENS_MANAGE = "tokens.manage"
    AUDIT_READ = "audit.read"
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    CUSTOMERS_MERGE = "customers.merge"
    INTERACTIONS_READ = "interactions.read"
    INTERACTIONS_WRITE = "interactions.write"
    REPORTS_READ = "reports.read"
    ROUTING_MANAGE = "routing.manage"
    TICKETS_READ = "tickets.read"
    TICKETS_WRITE = "tickets.write"
    TICKETS_MANAGE = "tickets.manage"
    SLA_MANAGE = "sla.manage"
    CHANNELS_MANAGE = "channels.manage"
    WFM_MANAGE = "wfm.manage"
    WEBHOOKS_MANAGE = "webhooks.manage"
    RULES_MANAGE = "rules.manage"
    SURVEYS_MANAGE = "surveys.manage"
    QA_EVALUATE = "qa.evaluate"
    KNOWLEDGE_READ = "knowledge.read"
    KNOWLEDGE_WRITE = "knowledge.write"
    KNOWLEDGE_PUBLISH = "knowledge.publish"
    KNOWLEDGE_MANAGE = "knowledge.manage"
    NLU_MANAGE = "nlu.manage"
    CAMPAIGNS_MANAGE = "campaigns.manage"


_AGENT = {
    Permission.TENANT_READ,
    Permission.CUSTOMERS_READ,
    Permission.CUSTOMERS_WRITE,
    Permission.INTERACTIONS_READ,
    Permission.INTERACTIONS_WRITE,
    Permission.TICKETS_READ,
    Permission.TICKETS_WRITE,
    Permission.KNOWLEDGE_READ,
    Permission.KNOWLEDGE_WRITE,
}
_SUPERVISOR = _AGENT | {
    Permission.CUSTOMERS_MERGE,
    Permission.REPORTS_READ,
    Permission.AUDIT_READ,
    Permission.ROUTING_MANAGE,
    Permission.SLA_MANAGE,
    Permission.TICKETS_MANAGE,
    Permission.WFM_MANAGE,
    Permission.RULES_MANAGE,
    Permission.SURVEYS_MANAGE,
    Permission.QA_EVALUATE,
    Permission.KNOWLEDGE_PUBLISH,
    Permission.KNOWLEDGE_MANAGE,
    Permission.NLU_MANAGE,
    Permission.CAMPAIGNS_MANAGE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SUPERVISOR: frozenset(_SUPERVISOR),
    Role.AGENT: frozenset(_AGENT),
    Role.CLIENT_VIEWER: frozenset({Permission.TENANT_READ, Permission.REPORTS_READ}),
}


def role_allows(role: Role | str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[Role(role)]
