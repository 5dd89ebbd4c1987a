"""The service's own files: its lock (held while it runs), its status and its log.

`daemon run` writes status.json whenever something a user would want to see changes (at
most twice a second), and holds an exclusive flock on `lock` for as long as it runs, so a
reader knows whether the status it reads is live or the last word of a stopped service.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agsekit.core.errors import AgsekitError
from agsekit.tools import flock

LOG_CAP = 8 << 20
WRITE_EVERY = 0.5


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME", "~"), ".local", "state")
    return Path(base).expanduser() / "agsekit" / "daemon"


def log_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if sys.platform == "darwin":
        return Path(env.get("HOME", "~")).expanduser() / "Library/Logs/agsekit/daemon.log"
    return state_dir(env) / "daemon.log"


def utc_text(moment: datetime | None = None) -> str:
    return (moment or datetime.now(timezone.utc)).isoformat(timespec="seconds")


class AlreadyRunning(AgsekitError):
    exit_code = 75


@contextmanager
def running_lock(folder: Path) -> Iterator[None]:
    """Held while a service runs; a second one refuses to start."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_status(folder / "status.json").get("pid", "?")
            raise AlreadyRunning(
                f"the agsekit service is already running (pid {pid})",
                hint="see it with `agsekit daemon status`",
            ) from None
        yield
    finally:
        os.close(fd)


def is_running(folder: Path) -> bool:
    return flock.held(folder / "lock")


@dataclass
class MountState:
    """What `status` shows about one mount the service takes care of."""

    source: str
    backup: str
    mode: str = "starting"  # starting, watching, polling
    reason: str | None = None  # why polling
    fix: str | None = None  # the command that would let it watch again
    watches: int = 0
    pending_changes: int = 0
    pending_since: str | None = None
    last_check: str | None = None
    last_snapshot: str | None = None
    last_snapshot_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    overflows: int = 0
    last_overflow: str | None = None
    next_check: str | None = None


@dataclass
class ServiceStatus:
    """status.json as read back; `running` is whether its service holds the lock now."""

    running: bool
    pid: int | None = None
    started: str | None = None
    config: str | None = None
    config_error: dict[str, Any] | None = None
    agsekit: str | None = None
    mounts: list[MountState] = field(default_factory=list)


class Board:
    """The live status of a running service, written to status.json by its own thread."""

    def __init__(self, folder: Path, header: dict[str, Any]) -> None:
        self.path = folder / "status.json"
        self.header = header
        self.mounts: dict[str, MountState] = {}
        self._cond = threading.Condition()
        self._dirty = True
        self._stopped = False
        self._thread = threading.Thread(target=self._writer, name="status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def update(self, source: str, **fields: Any) -> None:
        with self._cond:
            state = self.mounts.get(source)
            if state is None:
                return
            for key, value in fields.items():
                setattr(state, key, value)
            self._touch()

    def set_header(self, **fields: Any) -> None:
        with self._cond:
            self.header.update(fields)
            self._touch()

    def add(self, state: MountState) -> None:
        with self._cond:
            self.mounts[state.source] = state
            self._touch()

    def remove(self, source: str) -> None:
        with self._cond:
            self.mounts.pop(source, None)
            self._touch()

    def _touch(self) -> None:
        self._dirty = True
        self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)
        self.write()

    def write(self) -> None:
        with self._cond:
            data = {**self.header, "updated": utc_text()}
            data["mounts"] = [asdict(m) for m in self.mounts.values()]
            self._dirty = False
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(tmp, self.path)

    def _writer(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
            self.write()
            with self._cond:
                self._cond.wait_for(lambda: self._stopped, timeout=WRITE_EVERY)


def read_status(folder: Path | None = None) -> ServiceStatus:
    base = folder or state_dir()
    data = _read_status(base / "status.json")
    known = set(MountState.__dataclass_fields__)
    mounts = [
        MountState(**{k: v for k, v in m.items() if k in known})
        for m in data.get("mounts", [])
        if isinstance(m, dict) and isinstance(m.get("source"), str)
    ]
    return ServiceStatus(
        running=is_running(base),
        pid=data.get("pid"),
        started=data.get("started"),
        config=data.get("config"),
        config_error=data.get("config_error"),
        agsekit=data.get("agsekit"),
        mounts=mounts,
    )


def _read_status(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class DaemonLog:
    """The service's own log: one line per event, also on stderr (the journal)."""

    def __init__(self, path: Path, *, echo: bool = True) -> None:
        self.path = path
        self.echo = echo
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, message: str) -> None:
        line = f"{utc_text()} {message}"
        with self._lock:
            with contextlib.suppress(OSError):
                if self.path.stat().st_size > LOG_CAP:
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with contextlib.suppress(OSError), open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            if self.echo:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.write(line + "\n")
                    sys.stderr.flush()


class LogReporter:
    """The Reporter the service hands to the snapshot engine: everything goes to its log."""

    def __init__(self, log: DaemonLog, prefix: str) -> None:
        self.log = log
        self.prefix = prefix
        self.warnings: list[str] = []

    def info(self, message: str) -> None:
        self.log.write(f"[{self.prefix}] {message}")

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self.log.write(f"[{self.prefix}] warning: {message}")

    def progress(
        self, done_files: int, total_files: int, done_bytes: int, total_bytes: int
    ) -> None:
        pass

    def progress_done(self) -> None:
        pass
