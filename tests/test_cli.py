from __future__ import annotations

import pytest
from click.testing import CliRunner

from elastic_atlas.cli import main


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_commands_of_the_readme_exist():
    assert {
        "validate",
        "predict",
        "build",
        "release",
        "train",
        "freeze",
        "baselines",
        "schema",
        "sample",
    } <= set(main.commands)
