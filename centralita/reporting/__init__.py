"""Reporting: the measures of KPI.md, each defined and computed in one place."""
