"""CSV import of stores, staff, clients and visits (SPEC §2.1), and the POS visits API."""
