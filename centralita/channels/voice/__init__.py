"""Voice (and the telephony pieces SMS shares): TwiML webhooks, signatures, the provider's REST."""
