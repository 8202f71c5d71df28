"""Workforce management: Erlang staffing (and, as they land, forecasting and schedules)."""
