"""The past of one path, and the files the live folder has lost.

`file_history` looks the path up in every snapshot through descriptors (never through a
symlink) and groups consecutive snapshots holding the same content into one version;
hard-linked copies are recognised by their inode, others by their content digest. A path
that is a folder, a symlink or something else in some snapshot is listed there as such.
`deleted_files` lists what some snapshot holds and the live folder does not hold as the
same kind of entry (a file that became a folder is lost), with the last snapshot holding
it; what lies in a live folder that cannot be read is unknown, not missing.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agsekit.core.errors import UsageError
from agsekit.snapshots.engine.names import parse_name
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.engine.tree import DIR, FILE, LINK
from agsekit.snapshots.history.catalog import require_snapshots, snapshot_tree
from agsekit.tools import root as fs

SHA256_LIMIT = 256 << 20  # files up to this size also get a plain sha256 in --json


@dataclass
class Version:
    first: str  # the first snapshot holding this content
    last: str  # the last one in the run of snapshots that hold it
    kind: str  # FILE, LINK, DIR or "other"
    size: int
    mode: int
    mtime_ns: int
    digest: str  # agsekit's content digest (of the target for a link); "" when unknown
    sha256: str | None = None  # plain sha256 of the content, for files up to SHA256_LIMIT
    deleted_in: str | None = None  # the first later snapshot without the path


@dataclass(frozen=True)
class FileHistory:
    path: bytes
    versions: list[Version]
    live: str  # "unchanged", "changed", "missing", "unreadable" or a kind change


@dataclass(frozen=True)
class Found:
    st: os.stat_result
    digest: str
    sha256: str | None


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return LINK
    return "other"


def look_up(rootfd: int, path: bytes, *, read: bool = True) -> Found | None:
    """The entry at path below rootfd (None when absent or below something that is not a
    real folder), with the digest of its content when it is a regular file or a link."""
    parent, name = fs.parent_and_name(path)
    try:
        fd = fs.open_dir_path(rootfd, parent)
    except OSError:
        return None
    with fs.opened(fd):
        st = fs.lstat_at(fd, name)
        if st is None or not read:
            return Found(st, "", None) if st is not None else None
        if stat.S_ISLNK(st.st_mode):
            # None: no longer that link (swapped while it was looked at), no digest then
            target = fs.link_target_at(fd, name, fs.identity(st))
            digest = hashlib.sha256(target).hexdigest()[:32] if target is not None else ""
            return Found(st, digest, None)
        if not stat.S_ISREG(st.st_mode):
            return Found(st, "", None)
        try:
            file_fd, now = fs.open_regular(fd, name, fs.identity(st))
        except OSError:
            return Found(st, "", None)
        with fs.opened(file_fd):
            digest = fs.digest_fd(file_fd, now.st_size).hex()
            plain = _sha256(file_fd, now.st_size) if now.st_size <= SHA256_LIMIT else None
        return Found(now, digest, plain)


def _sha256(fd: int, size: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(fs.CHUNK, size - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def file_history(store: Store, source: Path, path: bytes) -> FileHistory:
    names = require_snapshots(store)
    versions: list[Version] = []
    last_inode: tuple[int, int] | None = None
    for name in names:
        with fs.opened(fs.open_root(store.path_of(name))) as rootfd:
            quick = look_up(rootfd, path, read=False)
            current = versions[-1] if versions else None
            open_run = current is not None and current.deleted_in is None
            if quick is None:
                if current is not None and open_run:
                    current.deleted_in = name
                last_inode = None
                continue
            inode = fs.identity(quick.st)
            if current is not None and open_run and inode == last_inode:
                current.last = name
                continue
            last_inode = inode
            found = look_up(rootfd, path) or quick
        _add_version(versions, name, found)
    if not versions:
        raise UsageError(
            f"{os.fsdecode(path)} is in none of the {len(names)} snapshots in {store.dest}",
            hint="list lost files with: agsekit backup-deleted",
        )
    return FileHistory(path, versions, _live_state(source, path, versions[-1]))


def _add_version(versions: list[Version], name: str, found: Found) -> None:
    st = found.st
    kind = _kind(st.st_mode)
    mode = stat.S_IMODE(st.st_mode)
    current = versions[-1] if versions else None
    if (
        current is not None
        and current.deleted_in is None
        and (current.digest, current.kind, current.mode) == (found.digest, kind, mode)
    ):
        current.last = name
        return
    size = st.st_size if kind == FILE else 0
    versions.append(
        Version(name, name, kind, size, mode, st.st_mtime_ns, found.digest, found.sha256)
    )


def _live_state(source: Path, path: bytes, latest: Version) -> str:
    try:
        rootfd = fs.open_root(os.path.realpath(source))
    except OSError:
        return "missing"
    with fs.opened(rootfd):
        found = look_up(rootfd, path)
    if found is None:
        return "missing"
    kind = _kind(found.st.st_mode)
    if kind != latest.kind:
        return {DIR: "now a folder", LINK: "now a symlink", FILE: "now a file"}.get(
            kind, "now a special file"
        )
    if kind == FILE and not found.digest:
        return "unreadable"
    same = found.digest == latest.digest
    return "unchanged" if same and latest.deleted_in is None else "changed"


@dataclass(frozen=True)
class DeletedFile:
    path: bytes
    kind: str
    size: int
    last_snapshot: str  # the newest snapshot that holds the file
    gone_since: str | None  # the first snapshot without it; None: only the live folder lacks it
    now: str | None = None  # what the live path is now, when it exists as another kind


def deleted_files(
    store: Store,
    source: Path,
    since: datetime | None = None,
    unknown: set[bytes] | None = None,
) -> list[DeletedFile]:
    """Files and links some snapshot holds and the live folder does not hold as the same
    kind of entry, each with the newest snapshot holding it. With `since`, only those
    first seen missing at or after it (by a snapshot taken then, or by the live folder).
    `unknown` receives the live folders that could not be read although some snapshot
    holds paths in them: what is gone from those is not known, so not listed."""
    names = require_snapshots(store)
    seen: set[tuple[bytes, str]] = set()  # (path, kind): a file that became a link is lost
    found: list[DeletedFile] = []
    try:
        rootfd = fs.open_root(os.path.realpath(source))
    except OSError:
        rootfd = -1
    try:
        live = _LiveView(rootfd)
        for index in range(len(names) - 1, -1, -1):
            later = names[index + 1] if index + 1 < len(names) else None
            if since is not None and later is not None and parse_name(later) < since:
                break
            for path, meta in snapshot_tree(store, names[index]).items():
                if meta.kind == DIR or (path, meta.kind) in seen:
                    continue
                seen.add((path, meta.kind))
                state = live.state(path)
                if state in (meta.kind, "unknown"):
                    continue
                now = None if state is None else state
                found.append(DeletedFile(path, meta.kind, meta.size, names[index], later, now))
    finally:
        if rootfd >= 0:
            os.close(rootfd)
    if unknown is not None:
        unknown.update(live.hidden)
    return sorted(found, key=lambda f: (f.path, f.kind))


class _LiveView:
    """Kinds of live entries; what lies below a folder that cannot be read is unknown."""

    def __init__(self, rootfd: int) -> None:
        self.rootfd = rootfd
        self.cursor = fs.DirCursor(rootfd) if rootfd >= 0 else None
        self.unreadable: set[bytes] = set()
        self.hidden: set[bytes] = set()  # unreadable folders that hid a snapshot's path

    def state(self, path: bytes) -> str | None:
        """FILE, LINK, DIR, "other", "unknown", or None when absent."""
        if self.cursor is None:
            return None
        parent, name = fs.parent_and_name(path)
        for folder in self.unreadable:
            if parent == folder or parent.startswith(folder + b"/"):
                self.hidden.add(folder)
                return "unknown"
        try:
            fd = self.cursor.fd(parent)
        except PermissionError:
            self.unreadable.add(parent)
            self.hidden.add(parent)
            return "unknown"
        except OSError:
            return None
        st = fs.lstat_at(fd, name)
        if st is None:
            return None
        kind = _kind(st.st_mode)
        if kind == DIR and not os.access(name, os.R_OK | os.X_OK, dir_fd=fd):
            self.unreadable.add(path)
        return kind
