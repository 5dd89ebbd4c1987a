"""Pins and labels of snapshots, kept in DEST/.agsekit/labels.json.

A pinned snapshot is never removed by retention. A label is a note shown by backup-list;
the engine also records the label a snapshot was taken with (in its stats), and a label
set here wins over that one. Writers hold the store's lock; the file is replaced
atomically, so a crash leaves the old or the new marks, never a torn file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from agsekit.core.errors import SnapshotError
from agsekit.snapshots.engine.store import Store, write_atomic

FORMAT = 1


@dataclass(frozen=True)
class Mark:
    pinned: bool = False
    label: str | None = None


def _path(store: Store) -> Path:
    return store.state / "labels.json"


def load_marks(store: Store) -> dict[str, Mark]:
    """Name -> Mark. A missing or unreadable file means no marks (and is never fatal:
    retention then simply sees no pins, which the lock-holding writer rewrites)."""
    try:
        doc = json.loads(_path(store).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = doc.get("snapshots") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        return {}
    marks = {}
    for name, raw in entries.items():
        if isinstance(raw, dict):
            label = raw.get("label")
            marks[name] = Mark(bool(raw.get("pinned")), label if isinstance(label, str) else None)
    return marks


def save_marks(store: Store, marks: dict[str, Mark]) -> None:
    """Replace the marks file; the caller holds the store's lock."""
    entries = {
        name: {"pinned": mark.pinned, "label": mark.label}
        for name, mark in sorted(marks.items())
        if mark.pinned or mark.label
    }
    text = json.dumps({"format": FORMAT, "snapshots": entries}, indent=2, ensure_ascii=False)
    write_atomic(_path(store), text + "\n")


def set_mark(store: Store, name: str, *, pinned: bool, label: str | None = None) -> Mark:
    """Pin or unpin one snapshot, optionally relabelling it; the caller holds the lock."""
    if name not in store.snapshot_names():
        raise SnapshotError(f"no snapshot named {name} in {store.dest}")
    marks = load_marks(store)
    old = marks.get(name, Mark())
    new = Mark(pinned, label if label is not None else old.label)
    marks[name] = new
    save_marks(store, marks)
    return new


def forget_marks(store: Store, names: set[str]) -> None:
    """Drop the marks of removed snapshots; the caller holds the lock."""
    marks = load_marks(store)
    if names & marks.keys():
        save_marks(store, {n: m for n, m in marks.items() if n not in names})
