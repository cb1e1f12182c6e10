"""The call: claiming the next client, logging outcomes and their effects (SPEC §6)."""
