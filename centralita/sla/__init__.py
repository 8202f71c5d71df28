"""SLA policies, business-time arithmetic, deadlines and escalations."""
