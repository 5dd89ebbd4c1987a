"""backup-check: every snapshot against its manifest, as restic's `check` and borg's
`check --verify-data` check a repository.

The fast form compares what is on disk with what the manifest recorded: kinds, modes,
sizes, times, link targets and the snapshot's own inodes. With read_data, every file's
content digest is computed again and compared (a file shared by many snapshots through
hard links is read once). Nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from agsekit.snapshots.engine import manifest
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Meta, Tree, stored_mode
from agsekit.snapshots.engine.walk import walk_snapshot
from agsekit.tools import root as fs


@dataclass
class SnapshotCheck:
    name: str
    manifest_ok: bool = True  # False: missing or damaged (nothing to compare with)
    missing: list[bytes] = field(default_factory=list)  # recorded, not on disk
    extra: list[bytes] = field(default_factory=list)  # on disk, not recorded
    damaged: list[tuple[bytes, str]] = field(default_factory=list)  # (path, what differs)
    files: int = 0
    read_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.manifest_ok and not (self.missing or self.extra or self.damaged)


def check_store(
    store: Store,
    *,
    read_data: bool = False,
    on_snapshot: Callable[[SnapshotCheck], None] | None = None,
) -> list[SnapshotCheck]:
    digests: dict[tuple[int, int], bytes | None] = {}
    results = []
    for name in store.snapshot_names():
        result = check_snapshot(store, name, read_data=read_data, digests=digests)
        results.append(result)
        if on_snapshot is not None:
            on_snapshot(result)
    return results


def check_snapshot(
    store: Store,
    name: str,
    *,
    read_data: bool = False,
    digests: dict[tuple[int, int], bytes | None] | None = None,
) -> SnapshotCheck:
    result = SnapshotCheck(name)
    found = manifest.load_manifest(store.state, name)
    if found is None:
        result.manifest_ok = False
        return result
    try:
        on_disk = walk_snapshot(os.fsencode(store.path_of(name)))
    except OSError as exc:
        result.damaged.append((b"", f"cannot be read: {exc.strerror or exc}"))
        return result
    recorded = found.tree
    result.missing = [p for p in recorded if p not in on_disk]
    result.extra = [p for p in on_disk if p not in recorded]
    for path, meta in recorded.items():
        disk = on_disk.get(path)
        if disk is None:
            continue
        problem = _differs(meta, disk)
        if problem is not None:
            result.damaged.append((path, problem))
        elif meta.kind == FILE:
            result.files += 1
    if read_data:
        _check_content(store, name, recorded, result, digests if digests is not None else {})
    return result


def _differs(recorded: Meta, disk: Meta) -> str | None:
    if recorded.kind != disk.kind:
        return f"is a {_kind(disk.kind)}, recorded as a {_kind(recorded.kind)}"
    if recorded.kind == LINK:
        return None if recorded.target == disk.target else "its target changed"
    if stored_mode(recorded.kind, recorded.mode) != disk.mode:
        return f"mode {disk.mode:o}, recorded {recorded.mode:o}"
    if recorded.kind == DIR:
        return None
    differences = (
        (recorded.size != disk.size, f"size {disk.size}, recorded {recorded.size}"),
        (recorded.mtime_ns != disk.mtime_ns, "modification time changed"),
        (
            bool(recorded.store_ino) and recorded.store_ino != disk.store_ino,
            "replaced by another file",
        ),
    )
    return next((why for differs, why in differences if differs), None)


def _kind(kind: str) -> str:
    return {FILE: "file", DIR: "folder", LINK: "symlink"}.get(kind, kind)


def _check_content(
    store: Store,
    name: str,
    recorded: Tree,
    result: SnapshotCheck,
    digests: dict[tuple[int, int], bytes | None],
) -> None:
    bad = {p for p, _ in result.damaged} | set(result.missing)
    with fs.opened(fs.open_root(store.path_of(name))) as rootfd, fs.DirCursor(rootfd) as cursor:
        for path, meta in recorded.items():
            if meta.kind != FILE or meta.digest is None or path in bad:
                continue
            digest = _digest(cursor, path, digests, result)
            if digest is None:
                result.damaged.append((path, "cannot be read"))
            elif digest != meta.digest:
                result.damaged.append((path, "content differs from what was recorded"))


def _digest(
    cursor: fs.DirCursor,
    path: bytes,
    cache: dict[tuple[int, int], bytes | None],
    result: SnapshotCheck,
) -> bytes | None:
    try:
        parent, name = cursor.parent_of(path)
        fd, st = fs.open_regular(parent, name)
    except OSError:
        return None
    with fs.opened(fd):
        key = fs.identity(st)
        if key not in cache:
            try:
                cache[key] = fs.digest_fd(fd, st.st_size)
                result.read_bytes += st.st_size
            except OSError:
                cache[key] = None
        return cache[key]
