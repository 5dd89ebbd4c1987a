"""A tree as the engine sees it: relative path -> metadata, for a source or a snapshot.

Paths are bytes relative to the tree's root (`b"dir/file"`), so names that are not UTF-8
survive exactly; the root itself is `b""`. Entries are kept in walk order: a directory
before what it holds, names sorted within a directory.
"""

from __future__ import annotations

import stat
from typing import NamedTuple

FILE = "f"
DIR = "d"
LINK = "l"


class Meta(NamedTuple):
    kind: str  # FILE, DIR or LINK
    mode: int  # permission bits only
    size: int
    mtime_ns: int
    ctime_ns: int  # of the source when last seen; 0 when unknown
    ino: int  # of the source when last seen; 0 when unknown
    target: bytes | None  # symlink target
    digest: bytes | None = None  # content digest (files), when known
    store_ino: int = 0  # inode of the copy inside the snapshot; 0 when unknown
    blocks: int = 0  # 512-byte blocks the source file used (its real disk cost)
    dev: int = 0  # st_dev of the source entry in this run (never recorded)


Tree = dict[bytes, Meta]


def kind_of(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return LINK
    return None


def stored_mode(kind: str, mode: int) -> int:
    """The mode an entry gets inside a snapshot: the recorded one, plus what its owner
    needs to read it back (a folder or file the project keeps at 000 must still be
    restorable by the user who owns the store). Manifests keep the true mode."""
    if kind == DIR:
        return mode | stat.S_IRUSR | stat.S_IXUSR
    if kind == FILE:
        return mode | stat.S_IRUSR
    return mode


def same_metadata(old: Meta, new: Meta) -> bool:
    """Kind, mode, size, mtime and link target agree (what rsync's quick check compares)."""
    if old.kind != new.kind or old.mode != new.mode:
        return False
    if old.kind == DIR:
        return True
    if old.kind == LINK:
        return old.target == new.target
    return old.size == new.size and old.mtime_ns == new.mtime_ns


def same_identity(old: Meta, new: Meta) -> bool:
    """The source file is the very one that was recorded: same inode, unchanged since
    (ctime catches rewrites that kept size and mtime: `cp -p`, `touch -r`)."""
    return bool(old.ctime_ns and new.ctime_ns) and (old.ctime_ns, old.ino) == (
        new.ctime_ns,
        new.ino,
    )


def same_content(old: Meta, new: Meta) -> bool:
    """Whether a snapshot's copy described by old can stand for the source entry new
    without reading either: metadata agree and, for files, either the inode and ctime or
    the recorded digests agree."""
    if not same_metadata(old, new):
        return False
    if old.kind != FILE:
        return True
    if old.digest is not None and new.digest is not None:
        return old.digest == new.digest
    if old.ctime_ns and new.ctime_ns:
        return same_identity(old, new)
    return True


def needs_content_check(old: Meta, new: Meta) -> bool:
    """Metadata agree but the inode or ctime differ (a restored or copied file): only
    the content can tell whether it changed."""
    return (
        old.kind == FILE
        and same_metadata(old, new)
        and bool(old.ctime_ns and new.ctime_ns)
        and not same_identity(old, new)
        and new.digest is None
    )


def ancestors(path: bytes) -> list[bytes]:
    """b"a/b/c" -> [b"a", b"a/b"] (the root b"" is not included)."""
    parts = path.split(b"/")
    return [b"/".join(parts[:i]) for i in range(1, len(parts))]
