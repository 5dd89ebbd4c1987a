"""How `agsekit ssh VM SSH_ARGS...` tells ssh's options from the command: as ssh does."""

from __future__ import annotations

import pytest

from agsekit.core.errors import UsageError
from agsekit.tools.ssh import split_arguments


@pytest.mark.parametrize(
    ("args", "options", "command"),
    [
        ([], [], []),
        (["-L", "8080:localhost:8080"], ["-L", "8080:localhost:8080"], []),
        (["--", "ls", "-la"], [], ["ls", "-la"]),
        (["-t", "--", "htop"], ["-t"], ["htop"]),
        (["-p2222", "-v", "uptime"], ["-p2222", "-v"], ["uptime"]),
        (["-vL", "1:h:2", "ls", "-la"], ["-vL", "1:h:2"], ["ls", "-la"]),
        (["-o", "LogLevel=ERROR", "--", "-x"], ["-o", "LogLevel=ERROR"], ["-x"]),
        (["echo", "--", "x"], [], ["echo", "--", "x"]),
    ],
)
def test_split(args: list[str], options: list[str], command: list[str]) -> None:
    assert split_arguments(args) == (options, command)


def test_an_option_without_its_value() -> None:
    with pytest.raises(UsageError, match="the ssh option -L needs a value"):
        split_arguments(["-L"])
