"""Privacy requests (GDPR): export everything the system holds about one
client, and erase a client's personal data while every count, report and
bonus stays the same (docs/privacy.md).

It sits above every feature whose tables hold something about a client
(clients, imports, campaigns, outbox, calls, scoring, bonuses) and below
``api``/``cli``; the client card shows it through a card panel, so the
clients package never imports it.
"""
