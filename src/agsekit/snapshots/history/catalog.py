"""Reading a store: the snapshots with their stats and marks, names people type, trees.

Everything here only reads. Snapshot names may be given exactly, as `latest`, or found by
time (`at_time`): the newest snapshot taken at or before a moment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agsekit.core.errors import SnapshotError, UsageError
from agsekit.snapshots.engine import manifest
from agsekit.snapshots.engine.names import PARTIAL_SUFFIX, is_partial_name, parse_name
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.engine.tree import Tree
from agsekit.snapshots.engine.walk import walk_snapshot, walk_source
from agsekit.snapshots.keep.marks import load_marks

LIVE = "live"
LATEST = "latest"


@dataclass(frozen=True)
class SnapshotEntry:
    """One complete snapshot as backup-list shows it. Counts are None when the snapshot's
    stats file is missing (a store copied without its .agsekit folder)."""

    name: str
    time: datetime  # UTC start time, from the name
    pinned: bool
    label: str | None
    stats: dict[str, Any] = field(default_factory=dict)

    def count(self, key: str) -> int | None:
        value = self.stats.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def incomplete(self) -> bool:
        return bool(self.stats.get("incomplete"))


def read_stats(store: Store, name: str) -> dict[str, Any]:
    try:
        data = json.loads((store.state / "manifests" / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def list_snapshots(store: Store) -> list[SnapshotEntry]:
    """Complete snapshots, oldest first."""
    marks = load_marks(store)
    entries = []
    for name in store.snapshot_names():
        stats = read_stats(store, name)
        mark = marks.get(name)
        recorded = stats.get("label")
        label = mark.label if mark is not None and mark.label else recorded
        entries.append(
            SnapshotEntry(
                name,
                parse_name(name),
                bool(mark and mark.pinned),
                label if isinstance(label, str) else None,
                stats,
            )
        )
    return entries


def require_snapshots(store: Store) -> list[str]:
    names = store.snapshot_names()
    if not names:
        raise UsageError(
            f"no snapshots in {store.dest}",
            hint=f"take one with: agsekit backup-once --source-dir SRC --dest-dir {store.dest}",
        )
    return names


def resolve_name(store: Store, text: str) -> str:
    """A snapshot name as typed: exact, or `latest`. Unfinished snapshots are refused."""
    names = require_snapshots(store)
    if text == LATEST:
        return names[-1]
    if is_partial_name(text) or text.endswith(PARTIAL_SUFFIX):
        raise UsageError(
            f"{text} is an unfinished snapshot (its run was interrupted); it may be missing "
            "files and cannot be used",
            hint="run `agsekit backup-list` to see the complete snapshots",
        )
    if text not in names:
        raise UsageError(
            f"no snapshot named {text} in {store.dest}",
            hint=f"snapshots run from {names[0]} to {names[-1]}; see agsekit backup-list",
        )
    return text


def at_time(store: Store, moment: datetime) -> str:
    """The newest snapshot taken at or before moment."""
    names = require_snapshots(store)
    earlier = [n for n in names if parse_name(n) <= moment]
    if not earlier:
        raise UsageError(
            f"no snapshot was taken at or before {moment.isoformat()}",
            hint=f"the oldest snapshot is {names[0]}",
        )
    return earlier[-1]


def snapshot_tree(store: Store, name: str) -> Tree:
    """The tree a snapshot holds: its manifest, else read back from disk."""
    tree = manifest.load(store.state, name)
    if tree is None:
        try:
            tree = walk_snapshot(os.fsencode(store.path_of(name)))
        except OSError as exc:
            raise SnapshotError(f"cannot read snapshot {name}: {exc.strerror}") from None
    return tree


def live_source(store: Store, fallback: Path | None = None) -> Path:
    """The live folder a store backs up: as recorded at its first snapshot, else fallback."""
    source = store.recorded_source() or fallback
    if source is None:
        raise UsageError(
            f"{store.dest} does not record which folder it backs up",
            hint="use --mount PATH with a config that names this store as a mount's backup",
        )
    return source


def recorded_excludes(store: Store) -> tuple[str, ...]:
    """The --exclude patterns the latest snapshot was taken with (none if unknown)."""
    latest = store.latest()
    if latest is None:
        return ()
    excludes = read_stats(store, latest).get("excludes", [])
    return tuple(str(p) for p in excludes) if isinstance(excludes, list) else ()


def live_tree(source: Path, store: Store) -> Tree:
    """What a snapshot of the live source would hold now (its .backupignore rules and the
    latest snapshot's --exclude patterns apply; the store is left out when it lies inside
    the source). A missing source is empty."""
    root = os.fsencode(os.path.realpath(source))
    if not os.path.isdir(root):
        return {}
    skip: frozenset[tuple[int, int]] = frozenset()
    if store.exists():
        st = os.stat(store.dest)
        skip = frozenset({(st.st_dev, st.st_ino)})
    return walk_source(root, recorded_excludes(store), skip).tree
