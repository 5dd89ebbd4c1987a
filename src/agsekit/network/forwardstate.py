"""What the forward runners say about each VM, for `status`: one JSON file per VM in
$XDG_STATE_HOME/agsekit/forwards (default ~/.local/state), written at every change, and
a lock the runner holds for as long as it runs, so that a reader knows whether the file
is live and a second runner for the same VM refuses to start.

The file also names the runner's ssh. A runner that was killed outright (SIGKILL, a
crash) leaves it running, holding the host ports, since ssh leads its own session; the
next runner to take the lock ends it first."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agsekit.core.errors import AgsekitError
from agsekit.tools import flock


def forwards_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME", "~"), ".local", "state")
    return Path(base).expanduser() / "agsekit" / "forwards"


@dataclass
class ForwardingState:
    """One VM's forwards as its runner last saw them."""

    vm: str
    pid: int
    keeper: str  # "portforward" or "service"
    forwards: list[str] = field(default_factory=list)
    up: bool = False
    since: str | None = None  # when it came up, or went down
    address: str | None = None  # the VM's sshd it is connected to
    error: str | None = None  # why it is down
    ssh_pid: int | None = None  # the ssh -N carrying the forwards now
    running: bool = False  # filled in by read_states: the runner holds its lock now


class Busy(AgsekitError):
    exit_code = 75


@contextlib.contextmanager
def runner_lock(vm: str) -> Iterator[None]:
    folder = forwards_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{vm}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            found = read_state(vm)
            who = f"{found.keeper} (pid {found.pid})" if found else "another agsekit"
            raise Busy(
                f"the forwards of {vm} are already kept up by {who}",
                hint="see them with `agsekit status`",
            ) from None
        _end_leftover_ssh(vm)
        yield
    finally:
        os.close(fd)


def _end_leftover_ssh(vm: str) -> None:
    """The ssh of a runner that died without stopping it (the lock was free), if it is
    still the one it started: the same forwarding ssh to this VM."""
    found = read_state(vm)
    if found is None or found.ssh_pid is None:
        return
    pid = found.ssh_pid
    if f"HostKeyAlias=agsekit-{vm}" not in _command_line(pid).split():
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)  # it leads its own session
        except OSError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)


def _command_line(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return ""  # no such process
    except OSError:
        return ""
    try:  # no /proc (macOS)
        argv = ["ps", "-o", "command=", "-p", str(pid)]
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


def write_state(state: ForwardingState) -> None:
    folder = forwards_dir()
    folder.mkdir(parents=True, exist_ok=True)
    data = asdict(state)
    data.pop("running")
    tmp = folder / f".{state.vm}.json.{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, folder / f"{state.vm}.json")


def remove_state(vm: str) -> None:
    (forwards_dir() / f"{vm}.json").unlink(missing_ok=True)


def read_state(vm: str) -> ForwardingState | None:
    folder = forwards_dir()
    try:
        data: dict[str, Any] = json.loads((folder / f"{vm}.json").read_text(encoding="utf-8"))
        state = ForwardingState(**data)
    except (OSError, ValueError, TypeError):
        return None
    state.running = flock.held(folder / f"{vm}.lock")
    return state
