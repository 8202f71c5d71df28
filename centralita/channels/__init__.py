"""Channels: email, chat, voice and SMS adapters over one small inbound/outbound protocol."""
