"""Signed outbound webhooks: tenants subscribe URLs to event types; deliveries are durable."""
