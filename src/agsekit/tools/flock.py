"""Asking whether another process holds a lock file (flock), without waiting for it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def held(path: Path, *, shared_too: bool = False) -> bool:
    """Whether a process holds path's lock: an exclusive holder, or (shared_too) any
    holder at all. A missing or unopenable file, or a symlink, is held by nobody."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if shared_too else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
