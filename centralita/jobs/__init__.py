"""Durable jobs: work that must survive a crash, written in the transaction that causes it."""
