"""The snapshot store on disk: listing, locking, the engine's state, crash-safe removal.

Nothing outside the engine's locked paths writes under DEST. Every change to the store
happens with the store's lock held: flock on the DEST/.agsekit folder itself, which
deleting a file cannot undo, and which the kernel releases if the process dies, so there
is never a stale lock to clean up. The lock is re-entrant inside one process (a restore
holds it while it takes its safety snapshot).

Removal never needs new space or inodes: an interrupted snapshot (`-partial`) is removed
where it lies (its name already says it is not a snapshot); a complete snapshot is first
renamed into the trash, which exists from the store's first use, so an interruption never
leaves a half-deleted folder that looks like a snapshot.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agsekit.core.display import show_path
from agsekit.core.errors import LockBusyError, SnapshotError
from agsekit.snapshots.engine.names import (
    PARTIAL_SUFFIX,
    is_partial_name,
    is_snapshot_name,
    parse_name,
)
from agsekit.tools import flock
from agsekit.tools import root as fs

STATE_DIR = ".agsekit"
TEMP_PREFIX = ".tmp-"
STATS_CAP = 1 << 20
LOG_CAP = 8 << 20


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    path: Path
    time: datetime


class _Held:
    """The lock of one store inside this process: a re-entrant mutex plus the flock."""

    def __init__(self) -> None:
        self.mutex = threading.RLock()
        self.depth = 0
        self.fd: int | None = None


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


def _held_for(key: str) -> _Held:
    with _HELD_GUARD:
        return _HELD.setdefault(key, _Held())


class Store:
    def __init__(self, dest: Path) -> None:
        self.dest = Path(os.path.abspath(dest))
        self.state = self.dest / STATE_DIR
        self._order: tuple[frozenset[str], list[str]] | None = None

    # ----- reading -------------------------------------------------------------------

    def exists(self) -> bool:
        return self.dest.is_dir()

    def snapshot_names(self) -> list[str]:
        """Complete snapshots in the order they were taken (which is the order of their
        names unless a clock was wrong). Entries that are not snapshots are ignored."""
        names = frozenset(n for n in self._entries() if is_snapshot_name(n) and self._is_dir(n))
        if self._order is not None and self._order[0] == names:
            return list(self._order[1])

        def key(name: str) -> tuple[int, str]:
            seq = self.read_stats(name).get("seq")
            return (seq if isinstance(seq, int) and not isinstance(seq, bool) else -1, name)

        ordered = sorted(names, key=key)
        self._order = (names, ordered)
        return list(ordered)

    def partial_names(self) -> list[str]:
        return sorted(n for n in self._entries() if is_partial_name(n))

    def snapshots(self) -> list[SnapshotInfo]:
        return [SnapshotInfo(n, self.dest / n, parse_name(n)) for n in self.snapshot_names()]

    def latest(self) -> str | None:
        names = self.snapshot_names()
        return names[-1] if names else None

    def path_of(self, name: str) -> Path:
        return self.dest / name

    def own_folder(self) -> set[fs.Identity]:
        """The store's own folder, for walks never to enter when it lies inside the
        folder they walk (empty when it does not exist yet)."""
        try:
            return {fs.identity(os.stat(self.dest))}
        except OSError:
            return set()

    def read_stats(self, name: str) -> dict[str, Any]:
        """What the engine recorded about a snapshot ({} when missing or damaged)."""
        try:
            fd = fs.open_root(self.state / "manifests")
        except OSError:
            return {}
        try:
            data = json.loads(fs.read_regular(fd, f"{name}.json".encode(), STATS_CAP))
        except (OSError, ValueError):
            return {}
        finally:
            os.close(fd)
        return data if isinstance(data, dict) else {}

    def recorded_source(self) -> Path | None:
        """The source folder this store backs up, as recorded; None when not recorded.
        A damaged record (not an absolute path) is an error, never a guess."""
        path = self.state / "store.json"
        try:
            fd = fs.open_root(self.state)
        except OSError:
            return None
        try:
            raw = fs.read_regular(fd, b"store.json", STATS_CAP)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        source = data.get("source") if isinstance(data, dict) else None
        if not isinstance(source, str) or not source.startswith("/") or "\0" in source:
            raise SnapshotError(
                f"{path} is damaged: it does not name the absolute path of the folder it backs up",
                hint=f"point it at the project with: agsekit backup-repoint --dest-dir "
                f"{self.dest} --source-dir PROJECT",
            )
        return Path(source)

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
        for folder in (self.dest, self.state, self.state / "manifests", self.state / "trash"):
            try:
                folder.mkdir(exist_ok=True)
            except FileExistsError:
                raise SnapshotError(f"{folder} exists and is not a folder") from None
            except OSError as exc:
                raise SnapshotError(f"cannot create {folder}: {exc.strerror}") from None
            if not folder.is_dir() or folder.is_symlink():
                raise SnapshotError(f"{folder} exists and is not a folder")

    def record_source(self, source: Path, *, replace: bool = False) -> None:
        if replace or self.recorded_source() is None:
            write_atomic(self.state / "store.json", json.dumps({"source": str(source)}) + "\n")

    def log(self, message: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = show_path(message) if "\n" in message or "\x1b" in message else message
        path = self.state / "log"
        try:
            if path.stat().st_size > LOG_CAP:
                os.replace(path, self.state / "log.1")
        except OSError:
            pass
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            # never through a symlink, never into anything but a regular file: a store
            # inside the source is the agent's to edit (a log linked to ~/.bashrc)
            fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOCTTY, 0o644)
        except OSError:
            return  # the log is a convenience; a full disk must not stop a snapshot's cleanup
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.write(fd, f"{stamp} {line}\n".encode("utf-8", "replace"))
        except OSError:
            pass
        finally:
            os.close(fd)

    # ----- locking -------------------------------------------------------------------

    @contextmanager
    def locked(
        self, *, wait: bool = True, on_wait: Callable[[], None] | None = None
    ) -> Iterator[None]:
        """Hold the store's exclusive lock: one writer at a time, across processes."""
        self.ensure()
        held = _held_for(str(self.dest))
        if not held.mutex.acquire(blocking=False):
            if not wait:
                raise LockBusyError(f"another agsekit task is writing to {self.dest}")
            if on_wait is not None:
                on_wait()
            held.mutex.acquire()
        try:
            if held.depth == 0:
                held.fd = self._take_flock(wait=wait, on_wait=on_wait)
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
                if held.depth == 0 and held.fd is not None:
                    os.close(held.fd)
                    held.fd = None
        finally:
            held.mutex.release()

    def _take_flock(self, *, wait: bool, on_wait: Callable[[], None] | None) -> int:
        try:
            fd = os.open(self.state, fs.DIR_FLAGS)
        except OSError as exc:
            raise SnapshotError(f"cannot open {self.state}: {exc.strerror}") from None
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
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextmanager
    def loop_registration(self) -> Iterator[None]:
        """Marks a repeated-snapshot loop as running on this store for as long as it lives.
        Several loops may register at once (shared lock); the store's lock is separate."""
        self.ensure()
        fd = os.open(self.state / "loop.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def loop_running(self) -> bool:
        return self._shared_lock_held("loop.lock")

    @contextmanager
    def service_registration(self) -> Iterator[None]:
        """Marks the background service as taking care of this store (watching its source
        or polling it) for as long as it does, so that agent sessions leave the periodic
        snapshots to it. Taken together with loop_registration()."""
        self.ensure()
        fd = os.open(self.state / "service.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def service_watching(self) -> bool:
        return self._shared_lock_held("service.lock")

    def _shared_lock_held(self, name: str) -> bool:
        return flock.held(self.state / name, shared_too=True)

    # ----- cleanup and removal (lock must be held) -----------------------------------

    def discard_partials(self) -> list[str]:
        """Remove interrupted `-partial` snapshots where they lie (no new space needed),
        with the manifest files one may have written before it was stopped."""
        removed = []
        with fs.opened(fs.open_root(self.dest)) as destfd:
            for name in self.partial_names():
                fs.remove_tree_at(destfd, name.encode())
                snapshot = name[: -len(PARTIAL_SUFFIX)]
                if not self._is_dir(snapshot):
                    self._forget_manifest(snapshot)
                removed.append(snapshot)
        return removed

    def _forget_manifest(self, name: str) -> None:
        for suffix in (".manifest", ".json"):
            (self.state / "manifests" / f"{name}{suffix}").unlink(missing_ok=True)

    def sweep_temporary(self) -> int:
        """Remove the temporary files an interrupted run left in the state folder."""
        count = 0
        for folder in (self.state, self.state / "manifests"):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                if name.startswith(TEMP_PREFIX) or name.startswith(".copy-list-"):
                    try:
                        os.unlink(folder / name)
                        count += 1
                    except OSError:
                        pass
        return count

    def remove_snapshot(self, name: str) -> None:
        """Remove one complete snapshot: renamed into the trash first, then deleted."""
        if not is_snapshot_name(name):
            raise SnapshotError(f"not a snapshot name: {name}")
        trash = self.state / "trash"
        target = f"{name}.{os.getpid()}.{os.urandom(4).hex()}"
        try:
            os.rename(self.dest / name, trash / target)
        except OSError as exc:
            if exc.errno == errno.ENOENT and (self.dest / name).exists():
                trash.mkdir(exist_ok=True)
                os.rename(self.dest / name, trash / target)
            elif exc.errno in (errno.EACCES, errno.EPERM):
                # moving a folder needs write access to it
                with fs.opened(fs.open_root(self.dest)) as destfd:
                    st = os.stat(name, dir_fd=destfd, follow_symlinks=False)
                    fs.make_owner_usable(destfd, name.encode(), st)
                os.rename(self.dest / name, trash / target)
            else:
                raise
        self._forget_manifest(name)
        self._order = None
        self.empty_trash()

    def empty_trash(self) -> list[str]:
        """Delete what is in the trash. Best effort: a problem is returned (and logged),
        never raised, so that cleanup can never block a new snapshot."""
        problems = []
        try:
            trashfd = fs.open_root(self.state / "trash")
        except OSError:
            return []
        with fs.opened(trashfd):
            for entry in os.listdir(trashfd):
                try:
                    fs.remove_tree_at(trashfd, os.fsencode(entry))
                    name = entry.split(".", 1)[0]  # entries are NAME.PID.RANDOM
                    if is_snapshot_name(name) and not self._is_dir(name):
                        self._forget_manifest(name)  # a removal stopped after its rename
                except OSError as exc:
                    problems.append(f"could not empty the trash ({entry}): {exc.strerror or exc}")
        for problem in problems:
            self.log(problem)
        return problems


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write a state file so that a crash leaves either the old or the new content."""
    data = text.encode() if isinstance(text, str) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.")
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """A failed write names the file it was for (a full disk fails the write itself,
    which names no file, or the temporary file, which is gone)."""
    return OSError(exc.errno, exc.strerror, str(path)) if exc.errno is not None else exc


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
