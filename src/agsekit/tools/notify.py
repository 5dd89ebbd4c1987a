"""Desktop notifications: notify-send on Linux, osascript on macOS, nothing elsewhere.

A notification is a courtesy on top of the printed and logged warning: any failure (no
program, no desktop session, a timeout) is swallowed and reported as False.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from agsekit.core.errors import AgsekitError
from agsekit.tools.runner import run, which


def session_bus(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The environment that reaches the desktop's session bus, None when there is none (a
    service started at boot, before anyone logged in). A user service whose manager did
    not pass the address on still finds the bus at $XDG_RUNTIME_DIR/bus."""
    env = os.environ if environ is None else environ
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return {}
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    bus = os.path.join(runtime, "bus")
    if os.path.exists(bus):
        return {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={bus}"}
    return None


def notify_session(title: str, message: str) -> bool:
    """notify(), for a background service: only when a desktop session bus exists."""
    if sys.platform == "darwin":
        return notify(title, message)
    bus = session_bus()
    return bus is not None and notify(title, message, env=bus or None)


def _applescript_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def notify(title: str, message: str, env: Mapping[str, str] | None = None) -> bool:
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
        return run(argv, check=False, timeout=10, env=env).returncode == 0
    except (AgsekitError, OSError):
        return False
