"""Web chat: the embeddable widget and the visitor's WebSocket."""
