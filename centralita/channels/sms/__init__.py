"""SMS through the telephony provider: inbound webhooks into conversations, outbound by REST."""
