"""Pins and labels of snapshots, kept in DEST/.agsekit/labels.json.

A pinned snapshot is never removed by retention. A label is a note shown by backup-list;
the engine also records the label a snapshot was taken with (in its stats), and a label
set here wins over that one. Each pin records why (`user`, `alarm`, `undo`) and when.

Pins are never silently lost: a marks file that cannot be read stops retention and every
pin write with an error naming it (reading it as "nothing is pinned" would let retention
remove pinned snapshots, and the next pin would rewrite the file from scratch). Writers
hold the store's lock; the file is replaced atomically, and the previous good file is kept
as labels.json.bak.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agsekit.core.errors import SnapshotError
from agsekit.snapshots.engine.store import Store, write_atomic
from agsekit.tools import root as fs

FORMAT = 1
CAP = 16 << 20
KINDS = ("user", "alarm", "undo")


class MarksDamaged(SnapshotError):
    """labels.json exists but cannot be read as marks."""


@dataclass(frozen=True)
class Mark:
    pinned: bool = False
    label: str | None = None
    kind: str = "user"  # why it is pinned
    pinned_at: str | None = None  # ISO time the pin was set


def _path(store: Store) -> Path:
    return store.state / "labels.json"


def _read(store: Store) -> bytes | None:
    try:
        with fs.opened(fs.open_root(store.state)) as fd:
            return fs.read_regular(fd, b"labels.json", CAP)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _damaged(store, exc.strerror or str(exc)) from None


def _damaged(store: Store, why: str) -> MarksDamaged:
    backup = _path(store).with_name("labels.json.bak")
    hint = (
        f"the last good copy is {backup}: check it, then `cp {backup} {_path(store)}`"
        if backup.exists()
        else f"fix or remove {_path(store)} (removing it unpins every snapshot)"
    )
    return MarksDamaged(
        f"the pins of {store.dest} cannot be read ({_path(store)}: {why}); not removing or "
        "pinning anything until they can",
        hint=hint,
    )


def load_marks(store: Store) -> dict[str, Mark]:
    """Name -> Mark; MarksDamaged when the file exists but is not valid marks."""
    raw = _read(store)
    if raw is None:
        return {}
    try:
        return parse_marks(raw)
    except ValueError as exc:
        raise _damaged(store, str(exc)) from None


def parse_marks(raw: bytes) -> dict[str, Mark]:
    try:
        doc: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    entries = doc.get("snapshots") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise ValueError("no 'snapshots' table")
    marks = {}
    for name, item in entries.items():
        if not isinstance(item, dict) or not isinstance(item.get("pinned", False), bool):
            raise ValueError(f"malformed entry for {name!r}")
        label, kind, when = item.get("label"), item.get("kind", "user"), item.get("pinned_at")
        if label is not None and not isinstance(label, str):
            raise ValueError(f"malformed label for {name!r}")
        marks[name] = Mark(
            bool(item.get("pinned")),
            label,
            kind if kind in KINDS else "user",
            when if isinstance(when, str) else None,
        )
    return marks


def marks_for_view(store: Store) -> tuple[dict[str, Mark], str | None]:
    """Marks for commands that only show them: a damaged file is a warning there."""
    try:
        return load_marks(store), None
    except MarksDamaged as exc:
        return {}, exc.message


def save_marks(store: Store, marks: dict[str, Mark]) -> None:
    """Replace the marks file, keeping the previous one as labels.json.bak; the caller
    holds the store's lock (and has just read the current file successfully)."""
    previous = _read(store)
    if previous is not None:
        write_atomic(_path(store).with_name("labels.json.bak"), previous)
    entries = {
        name: {"pinned": m.pinned, "label": m.label, "kind": m.kind, "pinned_at": m.pinned_at}
        for name, m in sorted(marks.items())
        if m.pinned or m.label
    }
    text = json.dumps({"format": FORMAT, "snapshots": entries}, indent=2, ensure_ascii=False)
    write_atomic(_path(store), text + "\n")


def set_mark(
    store: Store,
    name: str,
    *,
    pinned: bool,
    label: str | None = None,
    kind: str = "user",
    keep_label: bool = False,
) -> Mark:
    """Pin or unpin one snapshot, optionally relabelling it; the caller holds the lock.
    keep_label: an existing label stays (the engine's pins do not overwrite the user's)."""
    if name not in store.snapshot_names():
        raise SnapshotError(f"no snapshot named {name} in {store.dest}")
    marks = load_marks(store)
    old = marks.get(name, Mark())
    if keep_label and old.label:
        label = old.label
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds") if pinned else None
    new = Mark(pinned, label if label is not None else old.label, kind, stamp)
    marks[name] = new
    save_marks(store, marks)
    return new


def forget_marks(store: Store, names: set[str]) -> None:
    """Drop the marks of removed snapshots; the caller holds the lock."""
    marks = load_marks(store)
    if names & marks.keys():
        save_marks(store, {n: m for n, m in marks.items() if n not in names})
