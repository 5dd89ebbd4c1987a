"""`launchctl` for a per-user LaunchAgent: bootstrap, bootout, kickstart, print."""

from __future__ import annotations

import os

from agsekit.tools.runner import run

TIMEOUT = 60


def domain() -> str:
    return f"gui/{os.getuid()}"


def bootstrap(plist: str) -> None:
    run(["launchctl", "bootstrap", domain(), plist], timeout=TIMEOUT, what="launchctl bootstrap")


def bootout(label: str) -> None:
    run(["launchctl", "bootout", f"{domain()}/{label}"], check=False, timeout=TIMEOUT)


def kickstart(label: str, *, restart: bool = False) -> None:
    argv = ["launchctl", "kickstart", *(["-k"] if restart else []), f"{domain()}/{label}"]
    run(argv, timeout=TIMEOUT, what="launchctl kickstart")


def kill(label: str) -> None:
    run(["launchctl", "kill", "SIGTERM", f"{domain()}/{label}"], check=False, timeout=TIMEOUT)


def loaded_state(label: str) -> str | None:
    """`running`, `not running` or similar for a loaded agent; None when not loaded."""
    result = run(["launchctl", "print", f"{domain()}/{label}"], check=False, timeout=TIMEOUT)
    if result.returncode != 0:
        return None
    for line in result.stdout.splitlines():
        key, _, value = line.strip().partition(" = ")
        if key == "state":
            return value.strip()
    return "loaded"
