"""HTTP conventions shared by every domain: problem+json, dependencies, idempotency, pagination."""
