"""Manifests: the recorded Tree of each snapshot, kept in DEST/.agsekit/manifests/.

A manifest lets the engine decide "changed or not" and "link or copy" without walking the
previous snapshot. It is plain data (zlib-compressed JSON): a store that an agent could
reach must never be able to make the host run code, so no pickle.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from agsekit.snapshots.engine.store import write_atomic
from agsekit.snapshots.engine.tree import Meta, Tree

FORMAT = 1


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def encode(tree: Tree) -> bytes:
    rows = [
        [_text(p), m.kind, m.mode, m.size, m.mtime_ns, m.ctime_ns, m.ino]
        + ([_text(m.target)] if m.target is not None else [])
        for p, m in tree.items()
    ]
    data = json.dumps({"format": FORMAT, "entries": rows}, separators=(",", ":"))
    return zlib.compress(data.encode("ascii"), 1)


def decode(blob: bytes) -> Tree:
    """ValueError for anything that is not a manifest this version wrote."""
    try:
        doc: Any = json.loads(zlib.decompress(blob))
    except (zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"not a manifest: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("unknown manifest format")
    tree: Tree = {}
    for row in doc["entries"]:
        target = _raw(row[7]) if len(row) > 7 else None
        tree[_raw(row[0])] = Meta(row[1], row[2], row[3], row[4], row[5], row[6], target)
    return tree


def manifest_path(state_dir: Path, name: str) -> Path:
    return state_dir / "manifests" / f"{name}.manifest"


def save(state_dir: Path, name: str, tree: Tree) -> None:
    write_atomic(manifest_path(state_dir, name), encode(tree))


def load(state_dir: Path, name: str) -> Tree | None:
    """The manifest of snapshot `name`, or None when it is missing or unreadable."""
    try:
        blob = manifest_path(state_dir, name).read_bytes()
        return decode(blob)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
