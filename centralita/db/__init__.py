"""Database layer: engine, sessions, base model, tenant scoping and migrations."""
