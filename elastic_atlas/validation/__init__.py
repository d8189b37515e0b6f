"""Checking tables and data packages: row rules (schema, bounds, consistency, plausibility)
and package checks (containment, hashes, the project contract)."""
