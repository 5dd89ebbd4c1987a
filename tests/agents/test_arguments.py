"""default_args and the user's arguments: an option given again replaces the default."""

from __future__ import annotations

import pytest

from agsekit.agents.arguments import agent_arguments
from tests.agents.conftest import Setup

CASES = [
    # defaults, given, the agent's command line
    ([], ["fix it"], ["fix it"]),
    (["--model", "o3"], [], ["--model", "o3"]),
    (["--model", "o3"], ["--model", "o4-mini"], ["--model", "o4-mini"]),
    (["--model", "o3"], ["--model=o4-mini"], ["--model=o4-mini"]),
    (["--model=o3", "--yes"], ["--model", "x"], ["--yes", "--model", "x"]),
    (["--add-dir", "a", "b", "--yes"], ["--add-dir", "c"], ["--yes", "--add-dir", "c"]),
    (["-m", "x", "--verbose"], ["-m", "y"], ["--verbose", "-m", "y"]),
    (
        ["--model", "o3"],
        ["exec", "--", "--model", "z"],
        ["--model", "o3", "exec", "--", "--model", "z"],
    ),
    (["--yes", "--", "--model"], ["--model", "q"], ["--yes", "--", "--model", "--model", "q"]),
    (["exec"], ["-"], ["exec", "-"]),
]


@pytest.mark.parametrize(("defaults", "given", "expected"), CASES)
def test_agent_arguments(defaults: list[str], given: list[str], expected: list[str]) -> None:
    assert agent_arguments(defaults, given) == expected


def test_run_replaces_a_default_option_and_can_skip_them_all(setup: Setup) -> None:
    """The stand-in's default_args are [--from-config]; it writes what it got."""
    args = setup.evidence / "args"
    assert setup.run("run", "claude", "args", "--x").returncode == 0
    assert args.read_text().splitlines() == ["--from-config", "args", "--x"]
    assert setup.run("run", "claude", "args", "--from-config=mine").returncode == 0
    assert args.read_text().splitlines() == ["args", "--from-config=mine"]
    assert setup.run("run", "--skip-default-args", "claude", "args").returncode == 0
    assert args.read_text().splitlines() == ["args"]
