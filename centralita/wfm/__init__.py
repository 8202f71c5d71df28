"""Workforce management: forecasts, Erlang C / A staffing, schedules and adherence."""
