"""The audit log, read-only: the page managers and admins read, and its CSV.

Entries are written by ``core.audit.record`` inside the transaction of the
change they describe; nothing in the application edits or deletes them, and
on PostgreSQL a trigger refuses UPDATE and DELETE outright (the one exception:
a privacy erasure scrubs the erased client's data from entries about them).
"""
