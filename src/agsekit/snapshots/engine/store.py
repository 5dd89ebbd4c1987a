"""The snapshot store on disk: listing, locking, the engine's state, crash-safe removal.

Nothing outside this module and the engine writes under DEST. Every change to the store
happens with the store's lock held (flock on DEST/.agsekit/lock, released by the kernel
if the process dies, so there is never a stale lock to clean up).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from agsekit.core.errors import LockBusyError, SnapshotError
from agsekit.snapshots.engine.names import (
    PARTIAL_SUFFIX,
    is_partial_name,
    is_snapshot_name,
    parse_name,
)

STATE_DIR = ".agsekit"


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    path: Path
    time: datetime


class Store:
    def __init__(self, dest: Path) -> None:
        self.dest = Path(os.path.abspath(dest))
        self.state = self.dest / STATE_DIR

    # ----- reading -------------------------------------------------------------------

    def exists(self) -> bool:
        return self.dest.is_dir()

    def snapshot_names(self) -> list[str]:
        """Complete snapshots, oldest first. Entries that are not snapshots are ignored."""
        return sorted(n for n in self._entries() if is_snapshot_name(n) and self._is_dir(n))

    def partial_names(self) -> list[str]:
        return sorted(n for n in self._entries() if is_partial_name(n))

    def snapshots(self) -> list[SnapshotInfo]:
        return [SnapshotInfo(n, self.dest / n, parse_name(n)) for n in self.snapshot_names()]

    def latest(self) -> str | None:
        names = self.snapshot_names()
        return names[-1] if names else None

    def path_of(self, name: str) -> Path:
        return self.dest / name

    def recorded_source(self) -> Path | None:
        """The source folder recorded at the first snapshot, if any."""
        try:
            data = json.loads((self.state / "store.json").read_text())
        except (OSError, ValueError):
            return None
        source = data.get("source") if isinstance(data, dict) else None
        return Path(source) if isinstance(source, str) else None

    def _entries(self) -> list[str]:
        try:
            return os.listdir(self.dest)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SnapshotError(
                f"cannot read snapshot folder {self.dest}: {exc.strerror}"
            ) from None

    def _is_dir(self, name: str) -> bool:
        try:
            return stat.S_ISDIR(os.lstat(self.dest / name).st_mode)
        except OSError:
            return False

    # ----- state files ---------------------------------------------------------------

    def ensure(self) -> None:
        try:
            self.state.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SnapshotError(
                f"cannot create snapshot folder {self.dest}: {exc.strerror}"
            ) from None

    def record_source(self, source: Path) -> None:
        if self.recorded_source() is None:
            write_atomic(self.state / "store.json", json.dumps({"source": str(source)}) + "\n")

    def log(self, message: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with open(self.state / "log", "a", encoding="utf-8", errors="replace") as fh:
                fh.write(f"{stamp} {message}\n")
        except OSError:
            pass  # the log is a convenience; a full disk must not stop a snapshot's cleanup

    # ----- locking -------------------------------------------------------------------

    @contextmanager
    def locked(
        self, *, wait: bool = True, on_wait: Callable[[], None] | None = None
    ) -> Iterator[None]:
        """Hold the store's exclusive lock: one writer at a time, across processes."""
        self.ensure()
        fd = os.open(self.state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    raise LockBusyError(
                        f"another agsekit process is writing to {self.dest}"
                    ) from None
                if on_wait is not None:
                    on_wait()
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def loop_registration(self) -> Iterator[None]:
        """Marks a repeated-snapshot loop as running on this store for as long as it lives.
        Several loops may register at once (shared lock); the store's lock is separate."""
        self.ensure()
        fd = os.open(self.state / "loop.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def loop_running(self) -> bool:
        try:
            fd = os.open(self.state / "loop.lock", os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    # ----- removal (lock must be held) -----------------------------------------------

    def discard_partials(self) -> list[str]:
        """Move interrupted `-partial` snapshots out of the snapshot namespace and delete them."""
        removed = []
        for name in self.partial_names():
            self._remove_entry(name)
            removed.append(name[: -len(PARTIAL_SUFFIX)])
        return removed

    def remove_snapshot(self, name: str) -> None:
        """Remove one complete snapshot. It is first renamed into DEST/.agsekit/trash, so an
        interruption never leaves a half-deleted directory that looks like a snapshot."""
        if not is_snapshot_name(name):
            raise SnapshotError(f"not a snapshot name: {name}")
        self._remove_entry(name)
        for suffix in (".manifest", ".json"):
            (self.state / "manifests" / f"{name}{suffix}").unlink(missing_ok=True)

    def _remove_entry(self, name: str) -> None:
        trash = self.state / "trash"
        trash.mkdir(parents=True, exist_ok=True)
        target = trash / f"{name}.{os.getpid()}.{time.monotonic_ns()}"
        _make_owner_writable(self.dest / name)  # moving a folder needs write access to it
        os.rename(self.dest / name, target)
        self.empty_trash()

    def empty_trash(self) -> None:
        trash = self.state / "trash"
        if not trash.is_dir():
            return
        for entry in os.listdir(trash):
            remove_tree(trash / entry)


def remove_tree(path: Path) -> None:
    """Delete a tree that may hold read-only directories. Only directories are ever
    chmod-ed: files in snapshots are hard links shared with other snapshots, and unlinking
    a file needs write access to its folder only."""
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
        return
    _make_owner_writable(path)
    for root, dirs, _files in os.walk(path):  # top-down: each folder is fixed before entry
        for folder in dirs:
            _make_owner_writable(Path(root) / folder)
    shutil.rmtree(path)


def _make_owner_writable(folder: Path) -> None:
    mode = os.lstat(folder).st_mode
    if stat.S_ISDIR(mode) and stat.S_IMODE(mode) & stat.S_IRWXU != stat.S_IRWXU:
        os.chmod(folder, stat.S_IMODE(mode) | stat.S_IRWXU)


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write a state file so that a crash leaves either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hardlinks_work(folder: Path) -> bool:
    """Whether the filesystem holding folder supports hard links (exFAT and some SMB shares
    do not, which would turn every snapshot into a full copy)."""
    with tempfile.TemporaryDirectory(dir=folder, prefix=".agsekit-linktest-") as tmp:
        first = Path(tmp) / "a"
        first.write_bytes(b"")
        try:
            os.link(first, Path(tmp) / "b")
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
                return False
            raise
        return os.lstat(first).st_nlink == 2
