"""Where structures come from: recipes, CIF files/folders/zips, summaries, the Materials
Project API, the embedded sample."""
