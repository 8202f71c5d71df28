"""The email channel: SMTP and IMAP in, tickets and threads, loops and bounces, SMTP out."""
