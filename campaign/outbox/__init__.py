"""Follow-up messages: the outbox, its channels (SMTP e-mail, HTTP SMS gateway,
printed letters) and the timed sequences that feed it (SPEC §6)."""
