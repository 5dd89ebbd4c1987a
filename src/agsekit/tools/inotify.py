"""Linux inotify through inotify_simple: one typed adapter, raw masks kept.

inotify_simple is a thin ctypes wrapper that hands over every event as the kernel wrote
it, IN_Q_OVERFLOW included (the higher-level libraries drop it). Folders are watched
through their open descriptor (/proc/self/fd/N), so the watch lands on exactly the folder
that was opened and verified, never on whatever a path names a moment later.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # Linux only: not installed elsewhere
    from inotify_simple import INotify as _INotify
except (ImportError, OSError):
    _INotify = None

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000

# What a change of a folder's contents looks like.
TREE_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_EXCL_UNLINK
)
PROC_LIMITS = Path("/proc/sys/fs/inotify")


@dataclass(frozen=True)
class RawEvent:
    wd: int
    mask: int
    name: bytes


class WatchLimitError(OSError):
    """The kernel refused another watch (fs.inotify.max_user_watches is used up)."""


def available() -> bool:
    return _INotify is not None


def kernel_limit(name: str) -> int | None:
    """fs.inotify.NAME (max_user_watches, max_queued_events, max_user_instances)."""
    try:
        return int((PROC_LIMITS / name).read_text().strip())
    except (OSError, ValueError):
        return None


class Inotify:
    """One inotify instance: its own event queue (so an overflow belongs to one mount)."""

    def __init__(self) -> None:
        if _INotify is None:
            raise OSError(errno.ENOSYS, "inotify is not available on this system")
        self._inner: Any = _INotify(nonblocking=True)

    def fileno(self) -> int:
        return int(self._inner.fileno())

    def watch_dir_fd(self, fd: int, mask: int = TREE_MASK) -> int:
        """Watch the folder open at fd; WatchLimitError when the kernel has no watch left."""
        try:
            return int(self._inner.add_watch(f"/proc/self/fd/{fd}", mask))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise WatchLimitError(exc.errno, exc.strerror) from None
            raise

    def unwatch(self, wd: int) -> None:
        with contextlib.suppress(OSError):  # already gone with its folder
            self._inner.rm_watch(wd)

    def read(self) -> list[RawEvent]:
        """Every event queued now (no waiting)."""
        try:
            events = self._inner.read(timeout=0)
        except BlockingIOError:
            return []
        return [RawEvent(e.wd, e.mask, os.fsencode(e.name)) for e in events]

    def close(self) -> None:
        self._inner.close()
