"""The contract of the tables: column names, schemas, physics, reasons, checklist.

Reads the packaged copies of schema/ and validate/ (paths.contract_root). Depends on nothing
else in the package: every other layer builds on it.
"""
