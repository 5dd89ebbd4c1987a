"""The double's persistent state: a JSON file guarded by a lock, plus switch files."""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import STATE_ENV

Instance = dict[str, Any]

NAME_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")
SIZE_RE = re.compile(r"^(?:(\d+)(?:B)?|(\d+(?:\.\d+)?)([KMG])(?:i?B)?)$", re.IGNORECASE)
FACTOR = {"K": 1024, "M": 1024**2, "G": 1024**3}
MIN_MEMORY = 128 * 1024**2
MIN_DISK = 512 * 1024**2


def state_dir() -> Path:
    folder = os.environ.get(STATE_ENV)
    if not folder:
        folder = str(Path.home() / ".fake-multipass")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def switch(name: str) -> bool:
    return (state_dir() / name).exists()


@contextmanager
def locked_state() -> Iterator[dict[str, Any]]:
    """The state, loaded under an exclusive lock and saved when the block ends cleanly."""
    folder = state_dir()
    with open(folder / "lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / "state.json"
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        data.setdefault("instances", {})
        yield data
        tmp = folder / "state.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, path)


def home_of(name: str) -> Path:
    path = state_dir() / "homes" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def shm_of(name: str) -> Path:
    """The instance's /dev/shm: RAM in a real VM, so it survives between execs but not a
    stop or restart (guest.power_off)."""
    path = state_dir() / "shm" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def parse_size(text: str) -> int | None:
    match = SIZE_RE.match(text)
    if match is None:
        return None
    if match.group(1) is not None:
        return int(match.group(1))
    return int(float(match.group(2)) * FACTOR[match.group(3).upper()])


def human_size(num: int) -> str:
    """Multipass' way of printing a configured size: one decimal, binary units."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if num >= factor:
            return f"{num / factor:.1f}{unit}"
    return f"{num}B"


def ipv4_of(name: str) -> str:
    """A made-up address, or the one in ipv4/NAME (a test's sshd stands in for the VM's)."""
    given = state_dir() / "ipv4" / name
    if given.exists():
        return given.read_text().strip()
    digest = sum(ord(c) * (i + 1) for i, c in enumerate(name))
    return f"10.77.{digest % 250 + 1}.{(digest // 250) % 250 + 2}"
