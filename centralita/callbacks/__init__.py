"""Callbacks: promised calls back to customers, routed as work when due, retried, expiring."""
