"""What a snapshot will cost in space and inodes, and whether the store can afford it.

A snapshot is refused when it would leave less than the reserve (a share of the store's
file system, 5% by default) of space or of inodes free, or when the data it would copy is
far above what those files really use on the source's disk (a file of written zeros on a
compressing file system, say). Sparse files cost what they hold, since the copy keeps
their holes; every copied file costs whole blocks (a tree of tiny files uses far more
room than its bytes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agsekit.core.display import format_bytes
from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Tree
from agsekit.tools import root as fs

BLOCK = 4096  # what a file system allocates at least: a file of 100 bytes uses 4 KiB
FOLDER_BYTES = BLOCK  # one directory block per folder, in every snapshot
INFLATION_FACTOR = 4  # copied data may exceed the real disk use this many times ...
INFLATION_SLACK = 256 << 20  # ... plus this much, before a snapshot is refused


@dataclass(frozen=True)
class Usage:
    total: int
    free: int
    inodes_total: int  # 0: the file system has no inode limit
    inodes_free: int


@dataclass(frozen=True)
class Cost:
    data: int  # bytes of file data to write
    real: int  # what those files use on the source's disk
    inodes: int
    folders: int
    space: int = 0  # what the copies take on the store: their data in whole blocks


def usage(path: Path) -> Usage:
    st = os.statvfs(path)
    return Usage(st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize, st.f_files, st.f_favail)


def estimate(tree: Tree, to_copy: Iterable[bytes], source_fd: int) -> Cost:
    """The data, real disk use and inodes a snapshot of `tree` will need, given the
    files that must be copied (the others are hard links: no space, no inode). Hard links
    of one another among them count once: the snapshot keeps them one file."""
    folders = sum(1 for m in tree.values() if m.kind == DIR)
    links = sum(1 for m in tree.values() if m.kind == LINK)
    data = real = count = blocks = 0
    suspicious = []
    counted: set[tuple[int, int]] = set()
    for path in to_copy:
        meta = tree[path]
        if meta.kind != FILE:
            continue
        if meta.dev:
            if (meta.dev, meta.ino) in counted:
                continue  # a hard link of a file counted already: the snapshot links it
            counted.add((meta.dev, meta.ino))
        count += 1
        used = meta.blocks * 512
        real += min(used, meta.size)
        if meta.size > used:
            # holes, or a compressing file system: measure (guessing would let files of
            # `truncate -s 1M`, which hold nothing, look like data that stops snapshots)
            suspicious.append(path)
        else:
            data += meta.size
            blocks += -(-meta.size // BLOCK) * BLOCK
    measured = _measured_data(tree, suspicious, source_fd)
    return Cost(data + measured, real, folders + links + count, folders, blocks + measured)


def _measured_data(tree: Tree, paths: list[bytes], source_fd: int) -> int:
    """Bytes in the data parts (not holes) of these files."""
    total = 0
    if not paths:
        return 0

    def expect(path: bytes) -> fs.Identity | None:
        meta = tree.get(path)
        return (meta.dev, meta.ino) if meta is not None and meta.dev else None

    with fs.DirCursor(source_fd, expect) as cursor:
        for path in paths:
            meta = tree[path]
            try:
                parent, name = cursor.parent_of(path)
                fd, st = fs.open_regular(parent, name, (meta.dev, meta.ino) if meta.dev else None)
            except OSError:
                continue
            try:
                total += sum(end - start for start, end in fs.data_ranges(fd, st.st_size))
            finally:
                os.close(fd)
    return total


def refusal(cost: Cost, room: Usage, reserve: float, store: Path) -> str | None:
    """Why the store cannot take this snapshot, or None."""
    need = max(cost.space, cost.data) + cost.folders * FOLDER_BYTES
    keep = int(room.total * reserve)
    if room.free - need < keep:
        return (
            f"the snapshot needs about {format_bytes(need)} but {store} has "
            f"{format_bytes(room.free)} free and must keep {reserve:.0%} "
            f"({format_bytes(keep)}) free: not taking it"
        )
    keep_inodes = int(room.inodes_total * reserve)
    if room.inodes_total and room.inodes_free - cost.inodes < keep_inodes:
        return (
            f"the snapshot needs {cost.inodes} inodes but {store} has {room.inodes_free} "
            f"free and must keep {reserve:.0%} ({keep_inodes}) free: not taking it"
        )
    if cost.data > cost.real * INFLATION_FACTOR + INFLATION_SLACK:
        return (
            f"the files to copy hold {format_bytes(cost.data)} of data but use only "
            f"{format_bytes(cost.real)} on the source's disk (files of written zeros on a "
            "compressing file system?): not taking a snapshot that large"
        )
    return None


def cost_note(inodes: int, folders: int, changed: int) -> str | None:
    """A snapshot that costs far more than it changed says so, in numbers."""
    if inodes < 1000 or inodes < 10 * (changed + 1):
        return None
    return (
        f"this snapshot used {inodes} inodes and about {format_bytes(folders * FOLDER_BYTES)} "
        f"of folder blocks for {changed} changed file(s): every snapshot repeats each of the "
        f"source's {folders} folders"
    )
