"""Intent recognition: what a customer wants, in their words, mapped to a queue or self-service."""
