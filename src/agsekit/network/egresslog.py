"""The egress proxy's decisions: one JSON line each in $XDG_STATE_HOME/agsekit/egress/VM.log
(default ~/.local/state), which `agsekit net log` reads.

The file is capped: once a line would take it past the cap it becomes VM.log.1 (replacing
the one before) and a new file starts, so an agent that floods the proxy with denied
requests costs at most twice the cap on disk.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agsekit.service.state import utc_text

LOG_CAP = 4 << 20
MAX_HOST = 300  # a host name is at most 253; whatever a client sends is cut to this


def egress_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME", "~"), ".local", "state")
    return Path(base).expanduser() / "agsekit" / "egress"


@dataclass(frozen=True)
class Entry:
    time: str
    vm: str
    agent: str
    host: str
    port: int
    allowed: bool
    reason: str

    @classmethod
    def from_json(cls, line: str) -> Entry | None:
        """The entry of one line; None for a line that is not one (cut short, foreign)."""
        try:
            data: Any = json.loads(line)
            entry = cls(**data)
        except (ValueError, TypeError):
            return None
        text_fields = (entry.time, entry.vm, entry.agent, entry.host, entry.reason)
        if not all(isinstance(v, str) for v in text_fields):
            return None
        if not isinstance(entry.port, int) or not isinstance(entry.allowed, bool):
            return None
        return entry


class EgressLog:
    def __init__(self, path: Path, vm: str, agent: str, cap: int = LOG_CAP) -> None:
        self.path = path
        self.vm = vm
        self.agent = agent
        self.cap = cap
        self._lock = threading.Lock()

    def record(self, host: str, port: int, allowed: bool, reason: str) -> Entry:
        entry = Entry(utc_text(), self.vm, self.agent, host[:MAX_HOST], port, allowed, reason)
        line = (json.dumps(asdict(entry), ensure_ascii=True) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(line) > self.cap:
                os.replace(self.path, old_path(self.path))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return entry


def old_path(path: Path) -> Path:
    return path.with_name(path.name + ".1")


def vm_logs(folder: Path, vm: str | None) -> list[Path]:
    if vm is not None:
        return [folder / f"{vm}.log"]
    return sorted(folder.glob("*.log")) if folder.is_dir() else []


def read_entries(path: Path) -> Iterator[Entry]:
    """The entries of a VM's log, the rotated file's first."""
    for part in (old_path(path), path):
        try:
            text = part.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            entry = Entry.from_json(line)
            if entry is not None:
                yield entry
