"""`python -m elastic_atlas`: the same as the `elastic-atlas` command."""

from elastic_atlas.cli import main

main()
