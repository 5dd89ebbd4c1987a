"""Content checks for files whose metadata says "same" but whose inode or ctime do not.

A restored file (by agsekit, rsync or `cp -a`) has the size, mtime and mode of the
snapshot's copy but a new inode and ctime. Comparing the content settles it: equal means
unchanged (it will be linked, not copied again), different means modified (a same-size
rewrite that kept the old mtime is still caught).
"""

from __future__ import annotations

import os

from agsekit.snapshots.engine.tree import Meta, Tree, needs_content_check
from agsekit.tools import root as fs


def digest_at(cursor: fs.DirCursor, path: bytes, expect: fs.Identity | None) -> bytes | None:
    """The content digest of the regular file at path, or None when it cannot be read."""
    try:
        parent, name = cursor.parent_of(path)
        fd, st = fs.open_regular(parent, name, expect)
    except OSError:
        return None
    try:
        return fs.digest_fd(fd, st.st_size)
    except OSError:
        return None
    finally:
        os.close(fd)


def settle_by_content(
    tree: Tree, previous: Tree, source_fd: int, previous_fd: int | None
) -> list[bytes]:
    """Fill in the digests of files that need a content check (both sides), so that
    same_content() can decide; returns the paths whose content turned out equal."""
    suspects = [
        p for p, meta in tree.items() if p in previous and needs_content_check(previous[p], meta)
    ]
    if not suspects:
        return []

    def expect(path: bytes) -> fs.Identity | None:
        meta = tree.get(path)
        return (meta.dev, meta.ino) if meta is not None and meta.dev else None

    equal = []
    with fs.DirCursor(source_fd, expect) as live:
        snapshot = fs.DirCursor(previous_fd) if previous_fd is not None else None
        try:
            for path in suspects:
                meta, before = tree[path], previous[path]
                if before.digest is None and snapshot is not None:
                    recorded = digest_at(snapshot, path, None)
                    before = previous[path] = before._replace(digest=recorded)
                if before.digest is None:
                    continue
                digest = digest_at(live, path, (meta.dev, meta.ino) if meta.dev else None)
                if digest is None:
                    continue
                tree[path] = meta._replace(digest=digest)
                if digest == before.digest:
                    equal.append(path)
        finally:
            if snapshot is not None:
                snapshot.close()
    return equal


def refreshed(previous: Tree, tree: Tree, paths: list[bytes]) -> Tree:
    """The previous snapshot's tree with the live identity (inode, ctime) of files found
    equal by content, so that the next run need not read them again."""
    out = dict(previous)
    for path in paths:
        live: Meta = tree[path]
        out[path] = previous[path]._replace(ctime_ns=live.ctime_ns, ino=live.ino)
    return out
