"""The past of one file, and the files the live folder has lost.

`file_history` looks the path up in every snapshot (with lstat, never through a symlink)
and groups consecutive snapshots holding the same content into one version; hard-linked
copies are recognised by their inode, others by a sha256 of their content.
`deleted_files` lists what some snapshot holds and the live folder does not, each with the
last snapshot that holds it.
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
from agsekit.snapshots.history.diff import file_digest


@dataclass
class Version:
    first: str  # the first snapshot holding this content
    last: str  # the last one in the run of snapshots that hold it
    kind: str  # FILE or LINK
    size: int
    mode: int
    mtime_ns: int
    digest: str  # sha256 of the content (of the target for a link); "" when unreadable
    deleted_in: str | None = None  # the first later snapshot without the file


@dataclass(frozen=True)
class FileHistory:
    path: bytes
    versions: list[Version]
    live: str  # "unchanged", "changed" or "missing" (against the latest version)


def lookup(root: bytes, path: bytes) -> os.stat_result | None:
    """lstat root/path without following a symlink on the way (None when absent or when a
    folder on the way is not a real folder)."""
    current = root
    parts = path.split(b"/")
    for part in parts[:-1]:
        current += b"/" + part
        try:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                return None
        except OSError:
            return None
    try:
        return os.lstat(current + b"/" + parts[-1])
    except OSError:
        return None


def _digest_of(full: bytes, st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return hashlib.sha256(os.readlink(full)).hexdigest()
    return file_digest(full) or ""


def file_history(store: Store, source: Path, path: bytes) -> FileHistory:
    names = require_snapshots(store)
    versions: list[Version] = []
    last_inode: tuple[int, int] | None = None
    for name in names:
        root = os.fsencode(store.path_of(name))
        st = lookup(root, path)
        current = versions[-1] if versions else None
        if st is None or stat.S_ISDIR(st.st_mode):
            if st is not None:
                raise UsageError(
                    f"{os.fsdecode(path)} is a folder in snapshot {name}; backup-history "
                    "follows one file",
                    hint="to see what changed in a folder use: agsekit backup-diff",
                )
            if current is not None and current.deleted_in is None:
                current.deleted_in = name
            last_inode = None
            continue
        kind = LINK if stat.S_ISLNK(st.st_mode) else FILE
        inode = (st.st_dev, st.st_ino)
        if current is not None and current.deleted_in is None and inode == last_inode:
            current.last = name
            continue
        last_inode = inode
        digest = _digest_of(root + b"/" + path, st)
        mode = stat.S_IMODE(st.st_mode)
        if (
            current is not None
            and current.deleted_in is None
            and (current.digest, current.kind, current.mode) == (digest, kind, mode)
        ):
            current.last = name
            continue
        versions.append(Version(name, name, kind, st.st_size, mode, st.st_mtime_ns, digest))
    if not versions:
        raise UsageError(
            f"{os.fsdecode(path)} is in none of the {len(names)} snapshots in {store.dest}",
            hint="list lost files with: agsekit backup-deleted",
        )
    return FileHistory(path, versions, _live_state(source, path, versions[-1]))


def _live_state(source: Path, path: bytes, latest: Version) -> str:
    root = os.fsencode(os.path.realpath(source))
    st = lookup(root, path)
    if st is None or stat.S_ISDIR(st.st_mode):
        return "missing"
    same = _digest_of(root + b"/" + path, st) == latest.digest
    return "unchanged" if same and latest.deleted_in is None else "changed"


@dataclass(frozen=True)
class DeletedFile:
    path: bytes
    kind: str
    size: int
    last_snapshot: str  # the newest snapshot that holds the file
    gone_since: str | None  # the first snapshot without it; None: only the live folder lacks it


def deleted_files(store: Store, source: Path, since: datetime | None = None) -> list[DeletedFile]:
    """Files some snapshot holds and the live folder does not, each with the newest
    snapshot holding it. With `since`, only files first seen missing at or after it (by
    a snapshot taken then, or by the live folder now)."""
    names = require_snapshots(store)
    root = os.fsencode(os.path.realpath(source))
    seen: set[bytes] = set()
    found: list[DeletedFile] = []
    for index in range(len(names) - 1, -1, -1):
        later = names[index + 1] if index + 1 < len(names) else None
        if since is not None and later is not None and parse_name(later) < since:
            break
        for path, meta in snapshot_tree(store, names[index]).items():
            if meta.kind == DIR or path in seen:
                continue
            seen.add(path)
            if lookup(root, path) is None:
                found.append(DeletedFile(path, meta.kind, meta.size, names[index], later))
    return sorted(found, key=lambda f: f.path)
