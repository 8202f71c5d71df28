"""Interactions: the universal unit of work (calls, chats, emails, SMS, web forms, callbacks,
back-office tasks) and the messages exchanged in them."""
