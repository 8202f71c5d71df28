"""CSAT and NPS surveys after contacts: definitions, signed single-use links, answers."""
