"""Write a new snapshot folder from a walked source tree, through verified descriptors.

Unchanged files are hard-linked from the previous snapshot after checking that the copy
there still matches its manifest entry (a file damaged inside a snapshot is copied again
from the source, never linked forward); so are renamed or moved files, found by their
source inode and checked by content. Changed and new files are copied by agsekit
itself: each source file is opened relative to folders checked to be the ones the walk
saw, only if it is still the regular file the walk saw, and copied with its holes kept
and its content digest computed on the way. Files that are hard links of each other in
the source stay one file in the snapshot. Nothing in the previous snapshot is ever opened
for writing or chmod-ed: its files are shared with every older snapshot.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from agsekit.core.errors import SnapshotError
from agsekit.snapshots.engine.content import digest_at
from agsekit.snapshots.engine.tree import (
    DIR,
    FILE,
    LINK,
    Meta,
    Tree,
    same_content,
    same_metadata,
    stored_mode,
)
from agsekit.tools import root as fs

_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}
Progress = Callable[[int, int, int, int], None]


class Cancelled(SnapshotError):
    """The snapshot was stopped (a loop is shutting down)."""


@dataclass(frozen=True)
class Previous:
    fd: int
    tree: Tree


@dataclass
class BuildResult:
    linked: int = 0
    copied: int = 0
    copied_bytes: int = 0  # logical size of the copied files
    written_bytes: int = 0  # data actually written (holes and zero blocks are not)
    folders: int = 0
    symlinks: int = 0
    vanished: list[bytes] = field(default_factory=list)
    unreadable: list[tuple[bytes, str]] = field(default_factory=list)
    changed: list[bytes] = field(default_factory=list)  # swapped, or changed while copied
    carried: list[bytes] = field(default_factory=list)  # unreadable: previous version kept
    damaged: list[bytes] = field(default_factory=list)  # previous copy did not match
    hardlinks_unsupported: bool = False

    @property
    def inodes(self) -> int:
        return self.folders + self.symlinks + self.copied


@dataclass
class _Build:
    source: fs.DirCursor
    partial: fs.DirCursor
    previous: fs.DirCursor | None
    prev_tree: Tree
    tree: Tree
    multi_linked: set[bytes]
    result: BuildResult
    partial_root: int  # the new snapshot's folder, apart from the cursor's descriptors
    leaders: dict[tuple[int, int], bytes] = field(default_factory=dict)
    can_link: bool = True
    by_identity: dict[tuple[int, int, int], list[bytes]] | None = None  # see _link_renamed


def build_snapshot(
    *,
    source_fd: int,
    partial_fd: int,
    tree: Tree,
    previous: Previous | None,
    multi_linked: set[bytes] = frozenset(),  # type: ignore[assignment]
    to_copy_total: tuple[int, int] = (0, 0),
    on_progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> BuildResult:
    """Fill the empty folder partial_fd with `tree`, which is updated in place so that it
    stays the manifest of the result (digests and snapshot inodes filled in, entries that
    could not be copied dropped or carried over from the previous snapshot)."""

    def source_identity(path: bytes) -> fs.Identity | None:
        meta = tree.get(path)
        return (meta.dev, meta.ino) if meta is not None and meta.dev else None

    result = BuildResult()
    total_files, total_bytes = to_copy_total
    with (
        fs.DirCursor(source_fd, source_identity) as source,
        fs.DirCursor(partial_fd) as partial,
    ):
        prev_cursor = fs.DirCursor(previous.fd) if previous is not None else None
        try:
            job = _Build(
                source,
                partial,
                prev_cursor,
                previous.tree if previous is not None else {},
                tree,
                set(multi_linked),
                result,
                partial_fd,
                can_link=previous is not None,
            )
            for path in list(tree):
                if cancelled is not None and cancelled():
                    raise Cancelled("the snapshot was stopped")
                try:
                    _place(job, path)
                except OSError as exc:
                    raise _naming(exc, path) from exc
                if on_progress is not None and result.copied:
                    on_progress(result.copied, total_files, result.copied_bytes, total_bytes)
            _apply_directory_attributes(job)
        finally:
            if prev_cursor is not None:
                prev_cursor.close()
    return result


def _naming(exc: OSError, path: bytes) -> OSError:
    """The error with the entry it happened on: descriptor-relative calls name only the
    last component, copies none (a full disk would say "No space left" and not where)."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, os.fsdecode(path))


def _place(job: _Build, path: bytes) -> None:
    meta = job.tree.get(path)
    if meta is None or path == b"":
        return
    parent_fd, name = job.partial.parent_of(path)
    if meta.kind == DIR:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
        job.result.folders += 1
    elif meta.kind == LINK:
        os.symlink(meta.target or b"", name, dir_fd=parent_fd)
        os.utime(name, ns=(meta.mtime_ns, meta.mtime_ns), dir_fd=parent_fd, follow_symlinks=False)
        job.result.symlinks += 1
    elif not (
        _link_to_leader(job, path, meta, parent_fd, name)
        or _link_from_previous(job, path, meta, parent_fd, name)
        or _link_renamed(job, path, meta, parent_fd, name)
    ):
        _copy_file(job, path, meta, parent_fd, name)


def _link_to_leader(job: _Build, path: bytes, meta: Meta, parent_fd: int, name: bytes) -> bool:
    """A hard link of a file already placed in this snapshot becomes a link to it."""
    if path not in job.multi_linked:
        return False
    key = (meta.dev, meta.ino)
    leader = job.leaders.get(key)
    if leader is None or leader not in job.tree:
        return False
    lead_parent, lead_name = fs.parent_and_name(leader)
    # not through job.partial: moving that cursor would close parent_fd
    lead_fd = fs.open_dir_path(job.partial_root, lead_parent)
    try:
        os.link(lead_name, name, src_dir_fd=lead_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in _NO_LINKS or exc.errno == errno.EMLINK:
            return False
        raise
    finally:
        os.close(lead_fd)
    job.tree[path] = meta._replace(
        digest=job.tree[leader].digest, store_ino=job.tree[leader].store_ino
    )
    job.result.linked += 1
    return True


def _remember_leader(job: _Build, path: bytes, meta: Meta) -> None:
    if path in job.multi_linked:
        job.leaders.setdefault((meta.dev, meta.ino), path)


def _link_from_previous(job: _Build, path: bytes, meta: Meta, parent_fd: int, name: bytes) -> bool:
    before = job.prev_tree.get(path)
    if not job.can_link or job.previous is None or before is None:
        return False
    if not same_content(before, meta):
        return False
    try:
        prev_fd, _ = job.previous.parent_of(path)
        st = fs.lstat_at(prev_fd, name)
    except OSError:
        st = None
    if st is None or not _matches(st, before):
        job.result.damaged.append(path)
        return False
    if not _try_link(job, prev_fd, name, parent_fd, name):
        return False
    same_source = (before.ino, before.ctime_ns) == (meta.ino, meta.ctime_ns)
    if before.store_ino == st.st_ino and before.digest is not None and same_source:
        job.tree[path] = before  # the very entry recorded before (most files)
    else:
        job.tree[path] = meta._replace(digest=before.digest or meta.digest, store_ino=st.st_ino)
    job.result.linked += 1
    _remember_leader(job, path, meta)
    return True


def _try_link(job: _Build, src_fd: int, src_name: bytes, dst_fd: int, dst_name: bytes) -> bool:
    """Hard-link a previous snapshot's copy into the new one. False when this copy cannot
    be linked (too many links, gone) or the store cannot link at all (then no more links
    are tried in this run); any other error is raised."""
    try:
        os.link(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in _NO_LINKS:
            job.can_link = False
            job.result.hardlinks_unsupported = True
            return False
        if exc.errno in (errno.EMLINK, errno.ENOENT):
            return False
        raise
    return True


def _link_renamed(job: _Build, path: bytes, meta: Meta, parent_fd: int, name: bytes) -> bool:
    """A new path whose file the previous snapshot holds under another name (renamed or
    moved: same source inode, mode, size and mtime) is linked to that copy, not copied
    again, once the source's content is read and found to be the recorded one."""
    if not job.can_link or job.previous is None or path in job.prev_tree or not meta.ino:
        return False
    if job.by_identity is None:
        job.by_identity = {}
        for old, before in job.prev_tree.items():
            if before.kind == FILE and before.ino and before.digest is not None:
                key = (before.ino, before.size, before.mtime_ns)
                job.by_identity.setdefault(key, []).append(old)
    olds = job.by_identity.get((meta.ino, meta.size, meta.mtime_ns), [])
    olds = [old for old in olds if same_metadata(job.prev_tree[old], meta)]
    if not olds:
        return False
    digest = digest_at(job.source, path, (meta.dev, meta.ino) if meta.dev else None)
    for old in olds:
        before = job.prev_tree[old]
        if digest is None or before.digest != digest:
            continue
        try:
            prev_fd, old_name = job.previous.parent_of(old)
            st = fs.lstat_at(prev_fd, old_name)
        except OSError:
            continue
        if st is None or not _matches(st, before):
            continue
        if not _try_link(job, prev_fd, old_name, parent_fd, name):
            if not job.can_link:
                return False
            continue
        job.tree[path] = meta._replace(digest=digest, store_ino=st.st_ino)
        job.result.linked += 1
        _remember_leader(job, path, meta)
        return True
    return False


def _matches(st: os.stat_result | None, recorded: Meta) -> bool:
    """The previous snapshot's copy is still what its manifest says it is."""
    if st is None or not stat.S_ISREG(st.st_mode):
        return False
    if (st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode)) != (
        recorded.size,
        recorded.mtime_ns,
        stored_mode(FILE, recorded.mode),
    ):
        return False
    return not recorded.store_ino or recorded.store_ino == st.st_ino


def _copy_file(job: _Build, path: bytes, meta: Meta, parent_fd: int, name: bytes) -> None:
    result = job.result
    try:
        src_dir, _ = job.source.parent_of(path)
        src, before = fs.open_regular(src_dir, name, (meta.dev, meta.ino) if meta.dev else None)
    except (fs.TreeChanged, fs.NotRegular):
        result.changed.append(path)
        del job.tree[path]
        return
    except FileNotFoundError:
        result.vanished.append(path)
        del job.tree[path]
        return
    except OSError as exc:
        _carry_over_or_drop(job, path, parent_fd, name, exc)
        return
    try:
        dst = os.open(name, fs.NEW_FILE_FLAGS, 0o600, dir_fd=parent_fd)
        try:
            copied = fs.copy_fd(src, dst, before.st_size, before)
            fs.set_file_attributes(dst, stored_mode(FILE, meta.mode), before.st_mtime_ns)
            store_ino = os.fstat(dst).st_ino
        finally:
            os.close(dst)
    finally:
        os.close(src)
    if copied.changed:
        result.changed.append(path)
    job.tree[path] = meta._replace(
        size=copied.size,
        mtime_ns=before.st_mtime_ns,
        ctime_ns=before.st_ctime_ns,
        digest=copied.digest,
        store_ino=store_ino,
        blocks=before.st_blocks,
    )
    result.copied += 1
    result.copied_bytes += copied.size
    result.written_bytes += copied.data_bytes
    _remember_leader(job, path, meta)


def _carry_over_or_drop(
    job: _Build, path: bytes, parent_fd: int, name: bytes, exc: OSError
) -> None:
    """An unreadable file is not a deleted file: keep the previous snapshot's version of
    it when there is one (and say so), else leave it out (and say so)."""
    reason = exc.strerror or str(exc)
    job.result.unreadable.append((path, reason))
    before = job.prev_tree.get(path)
    if before is not None and before.kind == FILE and job.previous is not None:
        try:
            prev_fd, _ = job.previous.parent_of(path)
            st = fs.lstat_at(prev_fd, name)
            if _matches(st, before):
                os.link(name, name, src_dir_fd=prev_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
                job.tree[path] = before
                job.result.carried.append(path)
                job.result.linked += 1
                return
        except OSError:
            pass
    del job.tree[path]


def _apply_directory_attributes(job: _Build) -> None:
    """Modes and times of folders, deepest first, once nothing more is written inside."""
    for path in reversed(list(job.tree)):
        meta = job.tree[path]
        if meta.kind != DIR:
            continue
        mode = stored_mode(DIR, meta.mode)
        if path == b"":
            fd = job.partial.fd(b"")
            os.fchmod(fd, mode)
            os.utime(fd, ns=(meta.mtime_ns, meta.mtime_ns))
            continue
        parent_fd, name = job.partial.parent_of(path)
        os.chmod(name, mode, dir_fd=parent_fd)
        os.utime(name, ns=(meta.mtime_ns, meta.mtime_ns), dir_fd=parent_fd)
