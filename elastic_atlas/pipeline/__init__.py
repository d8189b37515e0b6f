"""Inputs to rows: screening, prediction in worker processes, the build driver, tables."""
