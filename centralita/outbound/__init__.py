"""Messages to customers waiting for a channel to send them: the one interface to the channels."""
