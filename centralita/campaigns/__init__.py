"""Proactive outbound campaigns: consent and opt-outs, target lists, paced and capped dispatch."""
