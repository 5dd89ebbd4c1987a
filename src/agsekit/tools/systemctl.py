"""`systemctl --user` and `loginctl`: one function per verb, argv lists, typed answers."""

from __future__ import annotations

from dataclasses import dataclass

from agsekit.core.errors import ToolFailedError
from agsekit.tools.runner import Completed, run, which

TIMEOUT = 60


@dataclass(frozen=True)
class UnitState:
    active: str  # active, inactive, failed, activating, ... ("unknown" when not loaded)
    enabled: str  # enabled, disabled, not-found, ...


def _systemctl(*args: str, check: bool = True) -> Completed:
    return run(
        ["systemctl", "--user", *args], check=check, timeout=TIMEOUT, what=f"systemctl {args[0]}"
    )


def reachable() -> str | None:
    """None when a user manager answers; else why not (its own words)."""
    if which("systemctl") is None:
        return "systemctl is not installed"
    result = _systemctl("show-environment", check=False)
    if result.returncode == 0:
        return None
    words = (result.stderr or result.stdout).strip().splitlines()
    return words[-1] if words else f"systemctl --user exited {result.returncode}"


def daemon_reload() -> None:
    _systemctl("daemon-reload")


def enable_now(unit: str) -> None:
    _systemctl("enable", "--now", unit)


def disable_now(unit: str) -> None:
    _systemctl("disable", "--now", unit, check=False)


def start(unit: str) -> None:
    _systemctl("start", unit)


def stop(unit: str) -> None:
    _systemctl("stop", unit)


def restart(unit: str) -> None:
    _systemctl("restart", unit)


def state(unit: str) -> UnitState:
    active = _systemctl("is-active", unit, check=False).stdout.strip() or "unknown"
    enabled = _systemctl("is-enabled", unit, check=False).stdout.strip() or "unknown"
    return UnitState(active, enabled)


def linger_enabled(user: str) -> bool | None:
    """Whether the user's services keep running without a login (None: cannot tell)."""
    if which("loginctl") is None:
        return None
    result = run(
        ["loginctl", "show-user", user, "--property=Linger", "--value"],
        check=False,
        timeout=TIMEOUT,
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip() == "yes"


def enable_linger(user: str) -> str | None:
    """Turn lingering on; None when done, else why not."""
    try:
        run(["loginctl", "enable-linger", user], timeout=TIMEOUT, what="loginctl enable-linger")
    except ToolFailedError as exc:
        return exc.message
    return None
