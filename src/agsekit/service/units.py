"""The service's unit files, rendered as pure functions of the command they start.

Linux: a systemd user unit. macOS: a LaunchAgent property list. Both start the absolute
path of the agsekit that installed them (`install` run from another install rewrites
them), restart it when it fails, and run it at a low CPU and I/O priority so snapshots
and their cleanup never freeze the desktop.
"""

from __future__ import annotations

import plistlib
from collections.abc import Sequence

UNIT_NAME = "agsekit.service"
LABEL = "io.github.agsekit.daemon"
STOP_TIMEOUT = 90  # seconds to remove an unfinished snapshot before systemd kills us


def systemd_word(word: str) -> str:
    """One argument of ExecStart as systemd reads it: quoted when needed; `%` and `$`
    doubled so that systemd expands neither specifiers nor variables."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    plain = escaped and all(ch.isalnum() or ch in "/._-+=:@,%$" for ch in escaped)
    if plain:
        return escaped
    inner = escaped.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{inner}"'


def systemd_unit(command: Sequence[str]) -> str:
    """The systemd user unit that runs `command` (argv, its first word absolute)."""
    exec_start = " ".join(systemd_word(word) for word in command)
    return (
        "# Written by `agsekit daemon install`; `agsekit daemon uninstall` removes it.\n"
        "[Unit]\n"
        "Description=agsekit: snapshots of the configured project folders on every change\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={exec_start}\n"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        "# a stop (SIGTERM) removes an unfinished snapshot, then exits with 143\n"
        "SuccessExitStatus=143\n"
        "KillMode=mixed\n"
        f"TimeoutStopSec={STOP_TIMEOUT}\n"
        "Nice=10\n"
        "IOSchedulingClass=best-effort\n"
        "IOSchedulingPriority=7\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def exec_start_of(unit_text: str) -> str | None:
    """The ExecStart line of a unit, as written."""
    for line in unit_text.splitlines():
        if line.startswith("ExecStart="):
            return line.removeprefix("ExecStart=")
    return None


def launchd_plist(command: Sequence[str], *, path_env: str, log_file: str) -> str:
    """The LaunchAgent that runs `command`, with the user's PATH (launchd gives a bare
    one) and its output in ~/Library/Logs/agsekit/."""
    data = {
        "Label": LABEL,
        "ProgramArguments": list(command),
        "EnvironmentVariables": {"PATH": path_env},
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ExitTimeOut": STOP_TIMEOUT,
        "ProcessType": "Background",
        "LowPriorityIO": True,
        "Nice": 10,
        "StandardOutPath": log_file,
        "StandardErrorPath": log_file,
    }
    return plistlib.dumps(data, sort_keys=False).decode()


def program_of(plist_text: str) -> list[str] | None:
    try:
        data = plistlib.loads(plist_text.encode())
    except Exception:
        return None
    args = data.get("ProgramArguments") if isinstance(data, dict) else None
    return [str(a) for a in args] if isinstance(args, list) else None
