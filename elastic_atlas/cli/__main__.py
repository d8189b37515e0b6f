"""`python -m elastic_atlas.cli`: the same as the `elastic-atlas` command."""

from elastic_atlas.cli import main

main()
