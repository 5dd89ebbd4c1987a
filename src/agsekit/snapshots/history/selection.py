"""Paths typed by a person, turned into paths inside a snapshot, safely.

A path is read relative to the current folder when that folder lies inside the live
source (as git does), else relative to the source's root; an absolute path must lie inside
the source. The result never leaves the tree: `..` that climbs out, or an absolute path
elsewhere, is refused. Paths are only ever used as keys into a snapshot's tree.
"""

from __future__ import annotations

import os
from pathlib import Path

from agsekit.core.errors import UsageError
from agsekit.snapshots.engine.tree import Tree


def _inside(path: bytes, root: bytes) -> bytes | None:
    """path relative to root (b"" for root itself), or None when outside."""
    if path == root:
        return b""
    prefix = root.rstrip(b"/") + b"/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def tree_path(text: str, source: Path, cwd: Path) -> bytes:
    raw = os.fsencode(text)
    if not raw:
        raise UsageError("an empty path was given")
    roots = [os.fsencode(os.path.abspath(source)), os.fsencode(os.path.realpath(source))]
    if raw.startswith(b"/"):
        bases = [b""]
    else:
        here = [os.fsencode(os.path.abspath(cwd)), os.fsencode(os.path.realpath(cwd))]
        bases = [h for h in here for r in roots if _inside(h, r) is not None] or roots[:1]
    for base in bases:
        candidate = os.path.normpath(base + b"/" + raw if base else raw)
        for root in roots:
            rel = _inside(candidate, root)
            if rel is not None:
                return rel
    raise UsageError(
        f"{text} lies outside the backed-up folder {source}",
        hint="give paths inside the project, relative to its root (e.g. src/main.py)",
    )


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


def ancestors(path: bytes) -> list[bytes]:
    """b"a/b/c" -> [b"a", b"a/b"] (the root b"" is not included)."""
    parts = path.split(b"/")
    return [b"/".join(parts[:i]) for i in range(1, len(parts))]
