"""The customer 360 view: profile, identities and history across channels.

A package of its own so that customers never depends on the kinds of work that refer to them.
"""
