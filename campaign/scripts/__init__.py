"""Call scripts: ordered steps with placeholders, branching questions,
per-reason remedies and standard answers, with translations (SPEC §6)."""
