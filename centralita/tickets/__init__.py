"""Tickets: numbered cases with a lifecycle, categories, templates, links and major incidents."""
