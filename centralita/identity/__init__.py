"""Users, tenant memberships and roles, browser sessions, API tokens and permissions."""
