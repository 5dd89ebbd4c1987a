"""Paths typed by a person, turned into paths inside a snapshot, safely.

A path is read relative to the current folder when that folder lies inside the live
source (as git does), else relative to the source's root; an absolute path must lie inside
the source. The result never leaves the tree: `..` that climbs out, or an absolute path
elsewhere, is refused. Paths are only ever used as keys into a snapshot's tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from agsekit.core.errors import UsageError
from agsekit.core.paths import bytes_relative_inside
from agsekit.snapshots.engine.tree import Tree, ancestors

__all__ = ["ancestors", "select", "tree_path"]


def tree_path(text: str, source: Path, cwd: Path) -> bytes:
    """The path inside the tree that `text` names, under any spelling that resolves into
    the source: relative or absolute, through a symlinked parent, with `..`. The last
    component is not resolved (it may be a symlink of the project itself)."""
    raw = os.fsencode(text)
    if not raw:
        raise UsageError("an empty path was given")
    roots = [os.fsencode(os.path.abspath(source)), os.fsencode(os.path.realpath(source))]
    if raw.startswith(b"/"):
        bases = [b""]
    else:
        here = [os.fsencode(os.path.abspath(cwd)), os.fsencode(os.path.realpath(cwd))]
        inside = [h for h in here for r in roots if bytes_relative_inside(h, r) is not None]
        bases = inside or roots[:1]
    for base in bases:
        joined = base + b"/" + raw if base else raw
        for candidate in _spellings(joined):
            for root in roots:
                rel = bytes_relative_inside(candidate, root)
                if rel is not None:
                    return rel
    raise UsageError(
        f"{text} lies outside the backed-up folder {source}",
        hint="give paths inside the project, relative to its root (e.g. src/main.py)",
    )


def _spellings(path: bytes) -> Iterator[bytes]:
    """The path as written (normalised), then with its folders resolved as the kernel
    resolves them (a symlinked parent, `..` after a symlink). The second is only asked
    for when the first does not fit, and a folder that changes while it is resolved (an
    agent swapping it) simply gives no second spelling."""
    yield os.path.normpath(path)
    parent, name = os.path.split(path.rstrip(b"/"))
    try:
        if name in (b"", b".", b".."):
            yield os.path.realpath(path)
        else:
            yield os.path.join(os.path.realpath(parent or b"/"), name)
    except OSError:
        return


def select(tree: Tree, paths: list[bytes], snapshot: str) -> Tree:
    """The entries of tree at or below any of paths (all of it when paths is empty or
    holds the root). A path the snapshot does not hold is an error."""
    if not paths or b"" in paths:
        return dict(tree)
    for path in paths:
        if path not in tree:
            raise UsageError(
                f"{os.fsdecode(path)} is not in snapshot {snapshot}",
                hint="see where it was with: agsekit backup-history PATH",
            )
    prefixes = tuple(p + b"/" for p in paths)
    wanted = set(paths)
    return {p: m for p, m in tree.items() if p in wanted or p.startswith(prefixes)}
