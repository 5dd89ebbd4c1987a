"""Running agent sessions, so that `status` can list them and `down` can refuse to stop a
VM under one. Each session holds a lock on its own record for as long as it runs: a record
whose lock is free belongs to a session that ended (even by SIGKILL) and is swept away."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass(frozen=True)
class Session:
    id: str
    agent: str
    vm: str
    folder: str
    started: str  # ISO 8601, UTC
    pid: int


def sessions_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME", "~"), ".local", "state")
    return Path(base).expanduser() / "agsekit" / "sessions"


def new_session_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


@contextmanager
def registered(session: Session, folder: Path | None = None) -> Iterator[None]:
    """Record session as running until the block ends."""
    base = folder or sessions_dir()
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"{session.id}.json"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps(asdict(session)).encode())
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def running_sessions(folder: Path | None = None) -> list[Session]:
    base = folder or sessions_dir()
    found = []
    for path in sorted(base.glob("*.json")) if base.is_dir() else []:
        session = _read_if_alive(path)
        if session is not None:
            found.append(session)
    return found


def _read_if_alive(path: Path) -> Session | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: the session is running
        else:
            path.unlink(missing_ok=True)  # nobody holds it: a leftover of a dead session
            return None
        try:
            return Session(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
    finally:
        os.close(fd)
