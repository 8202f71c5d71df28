"""Tenants (the provider's client companies) and their settings."""
