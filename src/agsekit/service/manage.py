"""Install, remove, start and stop the service under the user's service manager.

systemd (Linux): a user unit in $XDG_CONFIG_HOME/systemd/user/, enabled and started with
`systemctl --user`; `loginctl enable-linger` keeps it running without a login session.
launchd (macOS): a LaunchAgent in ~/Library/LaunchAgents/, loaded with `launchctl
bootstrap`. AGSEKIT_SERVICE_MANAGER=systemd|launchd|none overrides the choice.

Every use case returns the lines that say what it did; nothing here prints.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from agsekit.core.errors import AgsekitError
from agsekit.service import units
from agsekit.service.state import log_path
from agsekit.tools import launchctl, systemctl

Ask = Callable[[str], bool]
MANAGERS = ("systemd", "launchd", "none")


class NoServiceManager(AgsekitError):
    pass


def manager_name(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    forced = env.get("AGSEKIT_SERVICE_MANAGER", "")
    if forced in MANAGERS:
        return forced
    return "launchd" if sys.platform == "darwin" else "systemd"


def agsekit_command() -> list[str]:
    """How to start this very agsekit: its console script beside this Python when there is
    one (pip, pipx and the clone's .venv all put it there), else `python -m agsekit`."""
    script = Path(sys.executable).parent / "agsekit"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "agsekit"]


def service_command(config_path: Path) -> list[str]:
    return [*agsekit_command(), "daemon", "run", "--config", str(config_path)]


def unit_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME", "~")).expanduser()
    if manager_name(env) == "launchd":
        return home / "Library" / "LaunchAgents" / f"{units.LABEL}.plist"
    base = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "systemd" / "user" / units.UNIT_NAME


@dataclass(frozen=True)
class Installation:
    manager: str
    path: Path
    installed: bool
    command: str | None = None  # what the installed unit starts, as written
    current: bool = False  # it starts this agsekit
    state: str | None = None  # the manager's word: active, inactive, failed, running...
    enabled: str | None = None
    problem: str | None = None  # why the manager could not be asked


@dataclass
class Done:
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)


def render(config_path: Path) -> str:
    command = service_command(config_path)
    if manager_name() == "launchd":
        path_env = os.environ.get("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        return units.launchd_plist(command, path_env=path_env, log_file=str(log_path()))
    return units.systemd_unit(command)


def _command_in(text: str) -> str | None:
    if manager_name() == "launchd":
        program = units.program_of(text)
        return " ".join(program) if program else None
    return units.exec_start_of(text)


def _current_prefix() -> str:
    if manager_name() == "launchd":
        return " ".join(agsekit_command())
    return " ".join(units.systemd_word(w) for w in agsekit_command())


def installation() -> Installation:
    """What is installed, whether it starts this agsekit, and what the manager says."""
    name = manager_name()
    path = unit_path()
    try:
        text = path.read_text()
    except OSError:
        text = None
    command = _command_in(text) if text is not None else None
    current = command is not None and command.startswith(_current_prefix() + " ")
    base = Installation(name, path, text is not None, command, current)
    if name == "none" or text is None:
        return base
    return _with_state(base)


def _with_state(base: Installation) -> Installation:
    if base.manager == "launchd":
        state = launchctl.loaded_state(units.LABEL)
        return replace(base, state=state or "not loaded")
    problem = systemctl.reachable()
    if problem is not None:
        return replace(base, problem=problem)
    unit = systemctl.state(units.UNIT_NAME)
    return replace(base, state=unit.active, enabled=unit.enabled)


def is_active(found: Installation) -> bool:
    return found.state in ("active", "running", "activating", "reloading")


def install(config_path: Path, *, ask: Ask) -> Done:
    """Write (or rewrite) the unit for this agsekit and start it."""
    name = manager_name()
    if name == "none":
        raise NoServiceManager(
            "no service manager to install the agsekit service into",
            hint="run `agsekit daemon run` from your session's autostart instead",
        )
    done = Done()
    before = installation()
    if name == "systemd":
        _install_systemd(config_path, before, done, ask)
    else:
        _install_launchd(config_path, before, done)
    return done


def _write_unit(config_path: Path, before: Installation, done: Done) -> bool:
    """Write the unit; True when it changed."""
    text = render(config_path)
    path = before.path
    try:
        old = path.read_text()
    except OSError:
        old = None
    if old == text:
        done.say(f"{path} is up to date")
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    if old is None:
        done.say(f"wrote {path}")
    else:
        done.say(f"rewrote {path} (it started: {_command_in(old)})")
    done.say(f"it starts: {_command_in(text)}")
    return True


def _install_systemd(config_path: Path, before: Installation, done: Done, ask: Ask) -> None:
    problem = systemctl.reachable()
    if problem is not None:
        raise NoServiceManager(
            f"no systemd user manager answers ({problem})",
            hint="log in to a desktop or ssh session with systemd, or run `agsekit daemon "
            "run` from your session's autostart instead",
        )
    changed = _write_unit(config_path, before, done)
    systemctl.daemon_reload()
    systemctl.enable_now(units.UNIT_NAME)
    if changed and is_active(before):
        systemctl.restart(units.UNIT_NAME)
        done.say("restarted the running service with the new unit")
    state = systemctl.state(units.UNIT_NAME)
    done.say(f"{units.UNIT_NAME}: {state.enabled}, {state.active}")
    _linger(done, ask)


def _linger(done: Done, ask: Ask) -> None:
    user = getpass.getuser()
    lingering = systemctl.linger_enabled(user)
    command = f"loginctl enable-linger {user}"
    if lingering:
        done.say(f"lingering is on for {user}: the service runs without a login too")
        return
    if lingering is None:
        done.say(f"cannot tell whether lingering is on; to run without a login: {command}")
        return
    if not ask(f"Keep the service running after you log out ({command})?"):
        done.say(f"lingering not enabled: the service stops when you log out ({command})")
        return
    problem = systemctl.enable_linger(user)
    if problem is None:
        done.say(f"enabled lingering ({command}): the service runs from boot, logged in or not")
    else:
        done.say(f"could not enable lingering: {problem}")


def _install_launchd(config_path: Path, before: Installation, done: Done) -> None:
    log_path().parent.mkdir(parents=True, exist_ok=True)
    _write_unit(config_path, before, done)
    launchctl.bootout(units.LABEL)
    launchctl.bootstrap(str(before.path))
    done.say(f"loaded {units.LABEL} (starts at login, restarted when it fails)")


def uninstall() -> Done:
    done = Done()
    found = installation()
    if found.manager == "systemd":
        if systemctl.reachable() is None:
            systemctl.disable_now(units.UNIT_NAME)
    elif found.manager == "launchd":
        launchctl.bootout(units.LABEL)
    if found.installed:
        found.path.unlink(missing_ok=True)
        done.say(f"stopped the service and removed {found.path}")
    else:
        done.say(f"nothing to remove: {found.path} does not exist")
    if found.manager == "systemd" and found.installed and systemctl.reachable() is None:
        systemctl.daemon_reload()
    return done


def control(verb: str) -> Done:
    """start, stop or restart the installed service."""
    found = installation()
    if not found.installed:
        raise AgsekitError(
            "the agsekit service is not installed", hint="install it with `agsekit daemon install`"
        )
    if found.manager == "systemd":
        {"start": systemctl.start, "stop": systemctl.stop, "restart": systemctl.restart}[verb](
            units.UNIT_NAME
        )
        state = systemctl.state(units.UNIT_NAME).active
    else:
        if verb == "stop":
            launchctl.kill(units.LABEL)
        else:
            launchctl.kickstart(units.LABEL, restart=verb == "restart")
        state = launchctl.loaded_state(units.LABEL) or "not loaded"
    return Done([f"{verb}: the service is now {state}"])


def ensure_running(config_path: Path, *, ask: Ask) -> str:
    """For `up`: install and start the service unless it already runs this agsekit."""
    try:
        found = installation()
        if found.installed and found.current and is_active(found):
            return "already running"
        done = install(config_path, ask=ask)
    except AgsekitError as exc:
        return (
            f"not installed: {exc.message} (folders are protected only while `agsekit run` "
            "or `agsekit daemon run` runs)"
        )
    return "installed and started (" + "; ".join(done.lines[-2:]) + ")"
