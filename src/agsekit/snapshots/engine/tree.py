"""A tree as the engine sees it: relative path -> metadata, for a source or a snapshot.

Paths are bytes relative to the tree's root (`b"dir/file"`), so names that are not UTF-8
survive exactly; the root itself is `b""`. Entries are kept in walk order: a directory
before what it holds.
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
    ctime_ns: int  # of the source at walk time; 0 when read back from a snapshot
    ino: int  # of the source at walk time; 0 when read back from a snapshot
    target: bytes | None  # symlink target


Tree = dict[bytes, Meta]


def kind_of(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return LINK
    return None


def same_content(old: Meta, new: Meta) -> bool:
    """Whether a snapshot's copy described by old can stand for the source entry new.

    ctime and inode, when both sides know them, catch rewrites that kept size and mtime
    (a same-size rewrite within the clock's granularity, `cp -p`, `touch -r`)."""
    if old.kind != new.kind or old.mode != new.mode:
        return False
    if old.kind == DIR:
        return True
    if old.kind == LINK:
        return old.target == new.target
    if old.size != new.size or old.mtime_ns != new.mtime_ns:
        return False
    if old.ctime_ns and new.ctime_ns:
        return old.ctime_ns == new.ctime_ns and old.ino == new.ino
    return True
