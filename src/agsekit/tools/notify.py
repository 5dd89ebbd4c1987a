"""Desktop notifications: notify-send on Linux, osascript on macOS, nothing elsewhere.

A notification is a courtesy on top of the printed and logged warning: any failure (no
program, no desktop session, a timeout) is swallowed and reported as False.
"""

from __future__ import annotations

import sys

from agsekit.core.errors import AgsekitError
from agsekit.tools.runner import run, which


def _applescript_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def notify(title: str, message: str) -> bool:
    """Show a desktop notification; True when a notifier accepted it."""
    if sys.platform == "darwin":
        program = which("osascript")
        script = (
            f"display notification {_applescript_string(message)} "
            f"with title {_applescript_string(title)}"
        )
        argv = [program, "-e", script] if program else None
    else:
        program = which("notify-send")
        argv = [program, "--urgency=critical", title, message] if program else None
    if argv is None:
        return False
    try:
        return run(argv, check=False, timeout=10).returncode == 0
    except (AgsekitError, OSError):
        return False
