"""Walk a source folder: what a snapshot of it would hold, with each entry's metadata.

Symlinks are recorded as links and never followed. Sockets, FIFOs and devices are skipped
and reported. Excluded directories (ignore rules, or the snapshot store itself when it lies
inside the source) are not entered.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Meta, Tree
from agsekit.snapshots.ignore.rules import IgnoreRules

IGNORE_FILE = b".backupignore"
_PERM = 0o7777


@dataclass
class WalkResult:
    tree: Tree
    specials: list[bytes] = field(default_factory=list)  # skipped sockets, FIFOs, devices
    unreadable: list[tuple[bytes, str]] = field(default_factory=list)  # (path, reason)
    excluded_dirs: list[bytes] = field(default_factory=list)  # not entered: ignore rules
    file_count: int = 0
    byte_count: int = 0


def walk_source(
    root: bytes, excludes: Sequence[str], skip: frozenset[tuple[int, int]] = frozenset()
) -> WalkResult:
    """Walk root. `skip` holds (st_dev, st_ino) of directories never to enter (the store).

    Iterative rather than recursive, so that no directory depth can crash a snapshot."""
    out = WalkResult(tree={})
    st = os.lstat(root)
    out.tree[b""] = Meta(
        DIR, st.st_mode & _PERM, 0, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, None
    )
    pending = [(b"", IgnoreRules.root(excludes, _read_ignore_file(root, out, b"")))]
    while pending:
        rel, rules = pending.pop()
        subdirs = _scan_dir(root, rel, rules, skip, out)
        pending.extend(reversed(subdirs))
    return out


def _scan_dir(
    root: bytes, rel: bytes, rules: IgnoreRules, skip: frozenset[tuple[int, int]], out: WalkResult
) -> list[tuple[bytes, IgnoreRules]]:
    """Record the entries of one directory; return its subdirectories to walk next."""
    folder = root + b"/" + rel if rel else root
    prefix = rel + b"/" if rel else b""
    tree = out.tree
    subdirs: list[tuple[bytes, IgnoreRules]] = []
    try:
        with os.scandir(folder) as entries:
            listing = sorted(entries, key=lambda e: e.name)
    except OSError as exc:
        out.unreadable.append((rel or b".", exc.strerror or str(exc)))
        return subdirs
    check = not rules.empty
    for entry in listing:
        name = entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # vanished since the listing: a live project changes under us
        except OSError as exc:
            out.unreadable.append((prefix + name, exc.strerror or str(exc)))
            continue
        mode = st.st_mode
        path = prefix + name
        if stat.S_ISDIR(mode):
            if check and rules.excluded(name, True):
                out.excluded_dirs.append(path)
                continue
            if (st.st_dev, st.st_ino) in skip:
                continue
            tree[path] = Meta(DIR, mode & _PERM, 0, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, None)
            subdirs.append((path, rules.child(name, _read_ignore_file(root, out, path + b"/"))))
        elif check and rules.excluded(name, False):
            continue
        elif stat.S_ISREG(mode):
            tree[path] = Meta(
                FILE, mode & _PERM, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, None
            )
            out.file_count += 1
            out.byte_count += st.st_size
        elif stat.S_ISLNK(mode):
            try:
                target = os.readlink(root + b"/" + path)
            except OSError:
                continue
            tree[path] = Meta(LINK, 0, 0, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, target)
        else:
            out.specials.append(path)
    return subdirs


def _read_ignore_file(root: bytes, out: WalkResult, dir_prefix: bytes) -> bytes | None:
    path = root + b"/" + dir_prefix + IGNORE_FILE
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None
    except OSError as exc:
        out.unreadable.append((dir_prefix + IGNORE_FILE, exc.strerror or str(exc)))
        return None


def walk_snapshot(root: bytes) -> Tree:
    """Read a complete snapshot back as a Tree (used when its manifest is missing)."""
    st = os.lstat(root)
    tree: Tree = {b"": Meta(DIR, st.st_mode & _PERM, 0, st.st_mtime_ns, 0, 0, None)}
    stack = [b""]
    while stack:
        rel = stack.pop()
        folder = root + b"/" + rel if rel else root
        prefix = rel + b"/" if rel else b""
        with os.scandir(folder) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        subdirs = []
        for entry in listing:
            st = entry.stat(follow_symlinks=False)
            path = prefix + entry.name
            if stat.S_ISDIR(st.st_mode):
                tree[path] = Meta(DIR, st.st_mode & _PERM, 0, st.st_mtime_ns, 0, 0, None)
                subdirs.append(path)
            elif stat.S_ISREG(st.st_mode):
                tree[path] = Meta(FILE, st.st_mode & _PERM, st.st_size, st.st_mtime_ns, 0, 0, None)
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(root + b"/" + path)
                tree[path] = Meta(LINK, 0, 0, st.st_mtime_ns, 0, 0, target)
        stack.extend(reversed(subdirs))
    return tree
