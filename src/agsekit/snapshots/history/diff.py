"""What differs between two trees (two snapshots, or a snapshot and the live source).

One entry per path: A added, M modified, D deleted, R renamed (a deleted and an added file
with identical content, or links with the same target). Folders are listed only when they
hold nothing that is listed (an added or removed empty folder) or when their mode changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import NamedTuple

from agsekit.snapshots.engine.content import digest_at
from agsekit.snapshots.engine.tree import (
    DIR,
    FILE,
    LINK,
    Meta,
    Tree,
    needs_content_check,
    same_content,
)
from agsekit.snapshots.history.patch import PatchSide, carries_content, format_patch
from agsekit.snapshots.history.selection import ancestors
from agsekit.tools import root as fs

PATCH_LIMIT = 1 << 20  # larger files are named, not diffed


@dataclass(frozen=True)
class DiffEntry:
    status: str  # "A", "M", "D" or "R"
    path: bytes  # the new path for R
    kind: str  # FILE, LINK or DIR (of the new side; of the old side for D)
    old_path: bytes | None = None  # the old path for R


@dataclass(frozen=True)
class Side:
    """One end of a diff: a tree and the folder holding its files."""

    tree: Tree
    root: bytes


def diff_trees(old: Side, new: Side) -> list[DiffEntry]:
    added = [p for p in new.tree if p not in old.tree]
    deleted = [p for p in old.tree if p not in new.tree]
    digests: dict[tuple[bytes, bytes], bytes | None] = {}
    modified = [
        p for p, meta in new.tree.items() if p in old.tree and p and not _same(old, new, p, digests)
    ]
    renames = _renames(old, new, deleted, added, digests)
    renamed_from = {src for src in renames.values()}
    entries = [DiffEntry("M", p, new.tree[p].kind) for p in modified]
    entries += [DiffEntry("A", p, new.tree[p].kind) for p in added if p not in renames]
    entries += [DiffEntry("D", p, old.tree[p].kind) for p in deleted if p not in renamed_from]
    entries += [DiffEntry("R", p, new.tree[p].kind, src) for p, src in renames.items()]
    return _drop_implied_dirs(sorted(entries, key=lambda e: (e.path, e.status)))


def _same(
    old: Side, new: Side, path: bytes, digests: dict[tuple[bytes, bytes], bytes | None]
) -> bool:
    """Same content; where only the inode or ctime differ (a restored file), the
    content decides."""
    before, after = old.tree[path], new.tree[path]
    if not needs_content_check(before, after):
        return same_content(before, after)
    first = _digest(old, path, digests)
    return first is not None and first == _digest(new, path, digests)


def _drop_implied_dirs(entries: list[DiffEntry]) -> list[DiffEntry]:
    """An added or deleted folder is implied by the entries inside it."""
    holding: set[bytes] = set()
    for entry in entries:
        holding.update(ancestors(entry.path))
        if entry.old_path is not None:
            holding.update(ancestors(entry.old_path))
    return [e for e in entries if not (e.kind == DIR and e.status in "AD" and e.path in holding)]


def _renames(
    old: Side,
    new: Side,
    deleted: list[bytes],
    added: list[bytes],
    digests: dict[tuple[bytes, bytes], bytes | None],
) -> dict[bytes, bytes]:
    """new path -> old path for added entries whose content a deleted entry had."""
    by_key: dict[tuple[str, int, bytes | None], list[bytes]] = {}
    for path in deleted:
        meta = old.tree[path]
        if _renamable(meta):
            by_key.setdefault(_key(meta), []).append(path)
    renames: dict[bytes, bytes] = {}
    for path in added:
        meta = new.tree[path]
        candidates = by_key.get(_key(meta)) if _renamable(meta) else None
        if not candidates:
            continue
        base = os.path.basename(path)
        ordered = sorted(candidates, key=lambda c: os.path.basename(c) != base)
        for candidate in ordered:
            if meta.kind == LINK or _digest(new, path, digests) == _digest(old, candidate, digests):
                renames[path] = candidate
                candidates.remove(candidate)
                break
    return renames


def _renamable(meta: Meta) -> bool:
    return (meta.kind == FILE and meta.size > 0) or meta.kind == LINK


def _key(meta: Meta) -> tuple[str, int, bytes | None]:
    return (meta.kind, meta.size if meta.kind == FILE else 0, meta.target)


def _digest(
    side: Side, path: bytes, cache: dict[tuple[bytes, bytes], bytes | None]
) -> bytes | None:
    key = (side.root, path)
    if key not in cache:
        meta = side.tree.get(path)
        recorded = meta.digest if meta is not None else None
        cache[key] = recorded or file_digest(side.root, path)
    return cache[key]


def file_digest(root: bytes, path: bytes) -> bytes | None:
    """The content digest of the regular file at path below root, opened through
    descriptors (never through a symlink); None when it cannot be read."""
    try:
        rootfd = fs.open_root(root)
    except OSError:
        return None
    with fs.opened(rootfd), fs.DirCursor(rootfd) as cursor:
        return digest_at(cursor, path, None)


def read_small(root: bytes, path: bytes, cap: int) -> bytes | None:
    """The content of the regular file at path below root when it holds at most cap
    bytes (opened through descriptors, never blocking); None otherwise."""
    try:
        rootfd = fs.open_root(root)
    except OSError:
        return None
    parent, name = fs.parent_and_name(path)
    try:
        with fs.opened(rootfd), fs.opened(fs.open_dir_path(rootfd, parent)) as fd:
            return fs.read_regular(fd, name, cap)
    except (OSError, ValueError):
        return None


def counts(entries: list[DiffEntry]) -> dict[str, int]:
    out = {"added": 0, "modified": 0, "deleted": 0, "renamed": 0}
    names = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed"}
    for entry in entries:
        out[names[entry.status]] += 1
    return out


# ----- patches ----------------------------------------------------------------------------


class EntryPatch(NamedTuple):
    data: bytes  # git-style patch bytes (b"" when there is nothing a patch can say)
    complete: bool  # False when the patch only names a change (binary, large, unreadable)


def patch(old: Side, new: Side, entry: DiffEntry) -> EntryPatch:
    """The patch of one entry, as `git diff` prints it (see history/patch.py). A folder
    that became a file, or the reverse, is a deletion or an addition of the file: git apply
    applies that, GNU patch cannot (it removes files only after writing the others)."""
    before, after = _patch_sides(old, new, entry)
    if before is None and after is None:  # a folder: patches hold files and links only
        return EntryPatch(b"", True)
    return EntryPatch(format_patch(before, after), carries_content(before, after))


def _patch_sides(
    old: Side, new: Side, entry: DiffEntry
) -> tuple[PatchSide | None, PatchSide | None]:
    old_path = entry.old_path if entry.old_path is not None else entry.path
    before = _patch_side(old, old_path) if entry.status != "A" else None
    after = _patch_side(new, entry.path) if entry.status != "D" else None
    if before and after and before.content is None and after.content is None:
        before, after = _with_digests(old, before, new, after)
    return before, after


def _patch_side(side: Side, path: bytes) -> PatchSide | None:
    meta = side.tree.get(path)
    if meta is None or meta.kind == DIR:
        return None
    if meta.kind == LINK:
        return PatchSide(path, LINK, 0, meta.target or b"")
    content = read_small(side.root, path, PATCH_LIMIT) if meta.size <= PATCH_LIMIT else None
    return PatchSide(path, FILE, meta.mode, content)


def _with_digests(
    old: Side, before: PatchSide, new: Side, after: PatchSide
) -> tuple[PatchSide, PatchSide]:
    """Large files of the same size: their digests tell whether the content changed (a
    rename, a mode change), which the patch can then say without the content."""
    if before.kind != FILE or old.tree[before.path].size != new.tree[after.path].size:
        return before, after
    first, second = file_digest(old.root, before.path), file_digest(new.root, after.path)
    return (
        replace(before, digest=first.hex() if first else None),
        replace(after, digest=second.hex() if second else None),
    )
