"""Apply a restore plan through verified descriptors.

Every folder written into is opened from the target's root one component at a time,
without following symlinks, and checked to be the folder the plan saw; every entry that
is overwritten or removed is checked to be the one the plan saw (and the safety snapshot
saved) just before. An entry that changed in between is left alone and named. Files are
written to a temporary name in their folder and renamed into place, so nothing is ever
written through a link, and a file sharing its inode elsewhere is replaced, not rewritten.
Restored files are copies (never hard links into a snapshot), with their holes, modes,
times and symlinks; files that are hard links of each other in the snapshot are restored
as hard links of each other.

Folders the owner cannot write or search are made usable while the restore works in
them and given their mode back at the end.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.engine.tree import DIR, LINK, Meta, ancestors
from agsekit.snapshots.restore.plan import TEMP_PREFIX, RestorePlan
from agsekit.tools import root as fs


class _LeftAlone(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RestoreResult:
    files: int = 0
    links: int = 0
    folders: int = 0
    deleted: int = 0
    copied_bytes: int = 0
    left_alone: list[tuple[bytes, str]] = field(default_factory=list)


@dataclass
class _Apply:
    plan: RestorePlan
    store: Store
    reporter: Reporter
    live: fs.DirCursor
    rootfd: int
    snapshots: dict[str, fs.DirCursor]
    result: RestoreResult
    skip: Collection[bytes]
    cancelled: Callable[[], bool] | None
    made_usable: dict[bytes, int] = field(default_factory=dict)  # folder -> its old mode
    leaders: dict[tuple[str, int], bytes] = field(default_factory=dict)
    writable: tuple[bytes, int] | None = None  # the folder (and its open fd) last made usable
    total_files: int = 0
    total_bytes: int = 0

    def leave(self, path: bytes, reason: str) -> None:
        self.result.left_alone.append((path, reason))


def apply_restore(
    plan: RestorePlan,
    store: Store,
    reporter: Reporter,
    *,
    skip: Collection[bytes] = (),
    cancelled: Callable[[], bool] | None = None,
) -> RestoreResult:
    """Make the target match the plan, leaving the paths in `skip` (what the safety
    snapshot could not save) alone. The caller holds the store's lock, so retention
    cannot remove the snapshots being read."""
    os.makedirs(plan.target, exist_ok=True)
    discard_leftovers(plan)
    result = RestoreResult()
    fresh = plan.fresh_dirs | set(plan.replace)

    def expect(path: bytes) -> fs.Identity | None:
        seen = plan.live.get(path)
        return seen.identity if seen is not None and path not in fresh else None

    cursors: dict[str, fs.DirCursor] = {}
    with fs.opened(fs.open_real(plan.target)) as rootfd, fs.DirCursor(rootfd, expect) as live:
        job = _Apply(plan, store, reporter, live, rootfd, cursors, result, set(skip), cancelled)
        try:
            for name in plan.snapshots:
                with fs.opened(fs.open_root(store.path_of(name))) as snapfd:
                    cursors[name] = fs.DirCursor(snapfd)
            _run(job)
        finally:
            reporter.progress_done()
            for cursor in cursors.values():
                cursor.close()
            _give_modes_back(job)
    return result


def discard_leftovers(plan: RestorePlan) -> None:
    """Remove the temporary files a killed restore left (plan.leftovers), each only if it
    is still no folder. An in-place restore does this before its safety snapshot, so
    that no snapshot, and no undo, ever holds a half-written copy."""
    if not plan.leftovers:
        return
    with fs.opened(fs.open_real(plan.target)) as rootfd:
        for path in plan.leftovers:
            parent, name = fs.parent_and_name(path)
            with contextlib.suppress(OSError), fs.opened(fs.open_dir_path(rootfd, parent)) as fd:
                st = fs.lstat_at(fd, name)
                if st is not None and not stat.S_ISDIR(st.st_mode):
                    os.unlink(name, dir_fd=fd)


def _run(job: _Apply) -> None:
    plan = job.plan
    wanted = set(plan.create) | set(plan.overwrite)
    writes = [p for p in plan.entries if p in wanted]
    files = [p for p in writes if plan.entries[p].kind == "f"]
    job.total_files = len(files)
    job.total_bytes = sum(plan.entries[p].size for p in files)
    _remove(job, plan.delete, counted=True)
    for path in plan.replace:
        _remove(job, [*_inside(plan, path), path], counted=False)
    for index, path in enumerate(writes):
        if job.cancelled is not None and index % 256 == 0 and job.cancelled():
            raise KeyboardInterrupt
        _write(job, path)
    _folder_attributes(job)


def _inside(plan: RestorePlan, folder: bytes) -> list[bytes]:
    prefix = folder + b"/"
    return [p for p in plan.removed_inside if p.startswith(prefix)]


def _parent(job: _Apply, path: bytes, *, writable: bool) -> tuple[int, bytes]:
    """The folder holding path (checked to be the one the plan saw), made usable by its
    owner when we are to write into it."""
    parent, name = fs.parent_and_name(path)
    try:
        fd = job.live.fd(parent)
    except PermissionError:
        _make_usable(job, parent)
        fd = job.live.fd(parent)
    except fs.TreeChanged as exc:
        raise _LeftAlone(f"{exc.what} since the restore was planned") from None
    except FileNotFoundError:
        raise _LeftAlone("its folder vanished during the restore") from None
    if writable and job.writable != (parent, fd):
        st = os.fstat(fd)
        if stat.S_IMODE(st.st_mode) & stat.S_IRWXU != stat.S_IRWXU:
            job.made_usable.setdefault(parent, stat.S_IMODE(st.st_mode))
            os.fchmod(fd, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
        job.writable = (parent, fd)  # the files that follow in this folder skip the fstat
    return fd, name


def _make_usable(job: _Apply, folder: bytes) -> None:
    """A folder on the way that we cannot search: give its owner rwx, from its parent."""
    grand, name = _parent(job, folder, writable=False)
    st = fs.lstat_at(grand, name)
    if st is None or not stat.S_ISDIR(st.st_mode):
        raise _LeftAlone("its folder changed during the restore")
    old = fs.make_owner_usable(grand, name, st)
    if old is not None:
        job.made_usable.setdefault(folder, old)


def _is_planned(job: _Apply, path: bytes, st: os.stat_result | None) -> bool:
    seen = job.plan.live.get(path)
    return st is not None and seen is not None and fs.identity(st) == seen.identity


def _remove(job: _Apply, paths: list[bytes], *, counted: bool) -> None:
    """Remove these live entries, deepest first, each only if it is still the entry the
    plan saw; a folder only when it is empty by then."""
    for path in sorted(paths, key=lambda p: p.count(b"/"), reverse=True):
        if path in job.skip:
            job.leave(path, "could not be saved before the restore, so it was not touched")
            continue
        seen = job.plan.live.get(path)
        try:
            fd, name = _parent(job, path, writable=True)
            if not fs.remove_entry_at(fd, name, seen.identity if seen else (-1, -1)):
                continue
        except fs.TreeChanged:
            job.leave(path, "changed since the restore was planned")
            continue
        except _LeftAlone as left:
            job.leave(path, left.reason)
            continue
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                job.leave(path, "a folder that holds something new; kept")
                continue
            raise _named(job, path, exc) from exc
        if counted:
            job.result.deleted += 1


def _write(job: _Apply, path: bytes) -> None:
    meta = job.plan.entries[path]
    if path in job.skip:
        job.leave(path, "could not be saved before the restore, so it was not overwritten")
        return
    try:
        fd, name = _parent(job, path, writable=True)
        planned = meta.kind != DIR and path in job.plan.live and path not in job.plan.replace
        if planned and not _is_planned(job, path, fs.lstat_at(fd, name)):
            raise _LeftAlone("changed since the restore was planned")
        if meta.kind == DIR:
            _make_folder(job, fd, name)
        elif meta.kind == LINK:
            _place(fd, name, lambda tmp: _make_link(fd, tmp, meta))
            job.result.links += 1
        else:
            _place(fd, name, lambda tmp: _make_file(job, path, meta, fd, tmp))
            job.result.files += 1
            job.result.copied_bytes += meta.size
            job.reporter.progress(
                job.result.files, job.total_files, job.result.copied_bytes, job.total_bytes
            )
    except _LeftAlone as left:
        job.leave(path, left.reason)
    except fs.TreeChanged:
        raise
    except OSError as exc:
        raise _named(job, path, exc) from exc


def _named(job: _Apply, path: bytes, exc: OSError) -> OSError:
    """The error naming the path in the target that could not be changed, not the
    temporary name or the bare name that the call used beside its folder's descriptor."""
    where = os.path.join(job.plan.target, path) if path else job.plan.target
    return OSError(exc.errno, exc.strerror, os.fsdecode(where))


def _make_folder(job: _Apply, fd: int, name: bytes) -> None:
    try:
        os.mkdir(name, 0o700, dir_fd=fd)
        job.result.folders += 1
    except FileExistsError:
        st = fs.lstat_at(fd, name)
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise _LeftAlone("something else appeared there during the restore") from None


def _place(fd: int, name: bytes, make: Callable[[bytes], None]) -> None:
    """Create the entry under a temporary name, then rename it over `name`."""
    tmp = TEMP_PREFIX + os.urandom(6).hex().encode()
    make(tmp)
    try:
        os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError as exc:
        _discard(fd, tmp)
        if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise _LeftAlone("a folder appeared there during the restore") from None
        raise


def _discard(fd: int, tmp: bytes) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp, dir_fd=fd)


def _make_link(fd: int, tmp: bytes, meta: Meta) -> None:
    os.symlink(meta.target or b"", tmp, dir_fd=fd)
    os.utime(tmp, ns=(meta.mtime_ns, meta.mtime_ns), dir_fd=fd, follow_symlinks=False)


def _make_file(job: _Apply, path: bytes, meta: Meta, fd: int, tmp: bytes) -> None:
    origin = job.plan.origin.get(path, job.plan.snapshot)
    key = (origin, meta.store_ino) if meta.store_ino else None
    leader = job.leaders.get(key) if key is not None else None
    if leader is not None and _link_to(job, leader, fd, tmp):
        return
    cursor = job.snapshots[origin]
    src_dir, name = cursor.parent_of(path)
    src, st = fs.open_regular(src_dir, name)
    try:
        if meta.store_ino and st.st_ino != meta.store_ino:
            raise _LeftAlone(f"its copy in snapshot {origin} is not the one recorded")
        dst = os.open(tmp, fs.NEW_FILE_FLAGS, 0o600, dir_fd=fd)
        try:
            fs.copy_fd(src, dst, st.st_size, st)
            fs.set_file_attributes(dst, meta.mode, meta.mtime_ns)
        except BaseException:
            os.close(dst)
            _discard(fd, tmp)
            raise
        os.close(dst)
    finally:
        os.close(src)
    if key is not None:
        job.leaders[key] = path


def _link_to(job: _Apply, leader: bytes, fd: int, tmp: bytes) -> bool:
    parent, name = fs.parent_and_name(leader)
    try:
        lead_fd = fs.open_dir_path(job.rootfd, parent)
    except OSError:
        return False
    try:
        os.link(name, tmp, src_dir_fd=lead_fd, dst_dir_fd=fd, follow_symlinks=False)
        return True
    except OSError:
        return False
    finally:
        os.close(lead_fd)


def _folder_attributes(job: _Apply) -> None:
    """Modes and times of the restored folders, deepest first, once nothing more is
    written inside them. Existing folders above the restored paths keep theirs."""
    plan = job.plan
    chosen = plan.selected_dirs | plan.fresh_dirs
    for path in reversed(list(plan.entries)):
        meta = plan.entries[path]
        if meta.kind != DIR or path not in chosen or path in job.skip:
            continue
        if path in plan.blocked or any(a in plan.blocked for a in ancestors(path)):
            continue
        job.made_usable.pop(path, None)
        try:
            if path == b"":
                os.fchmod(job.rootfd, meta.mode)
                os.utime(job.rootfd, ns=(meta.mtime_ns, meta.mtime_ns))
                continue
            fd, name = _parent(job, path, writable=False)
            fs.chmod_at(fd, name, meta.mode)
            os.utime(name, ns=(meta.mtime_ns, meta.mtime_ns), dir_fd=fd, follow_symlinks=False)
        except (_LeftAlone, fs.TreeChanged, FileNotFoundError):
            job.leave(path, "changed during the restore; its mode and time were not set")
        except OSError as exc:
            raise _named(job, path, exc) from exc


def _give_modes_back(job: _Apply) -> None:
    """Folders made usable only for the restore get their own mode back, deepest first."""
    for folder, mode in sorted(
        job.made_usable.items(), key=lambda i: i[0].count(b"/"), reverse=True
    ):
        try:
            if folder == b"":
                os.fchmod(job.rootfd, mode)
                continue
            fd, name = _parent(job, folder, writable=False)
            fs.chmod_at(fd, name, mode)
        except (OSError, _LeftAlone):
            job.leave(folder, "its mode could not be put back after the restore")
