"""Packaging a versioned release: assembly, the data package descriptor, figures, the
Science Data Bank bundle."""
