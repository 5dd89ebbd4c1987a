"""Reading a store: the snapshots with their stats and marks, names people type, trees.

Everything here only reads. Snapshot names may be given exactly, as `latest`, or found by
time (`at_time`): the newest snapshot taken at or before a moment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agsekit.core.display import show_path
from agsekit.core.errors import SnapshotError, UsageError
from agsekit.snapshots.engine import manifest
from agsekit.snapshots.engine.manifest import Manifest
from agsekit.snapshots.engine.names import PARTIAL_SUFFIX, is_partial_name, parse_name
from agsekit.snapshots.engine.snapshot import SnapshotRequest
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.engine.tree import Tree
from agsekit.snapshots.engine.walk import (
    IGNORE_FILE,
    IGNORE_FILE_CAP,
    RuleSource,
    WalkResult,
    walk_path,
    walk_snapshot,
)
from agsekit.snapshots.keep.marks import marks_for_view
from agsekit.tools import root as fs

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
    return store.read_stats(name)


def list_snapshots(store: Store) -> tuple[list[SnapshotEntry], str | None]:
    """Complete snapshots in the order they were taken, and a warning when the pins
    cannot be read."""
    marks, warning = marks_for_view(store)
    entries = []
    for name in store.snapshot_names():
        stats = store.read_stats(name)
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
    return entries, warning


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


def snapshot_manifest(store: Store, name: str) -> Manifest:
    """What a snapshot holds (its validated manifest, else read back from disk) and the
    rules it was taken with (None when they were not recorded)."""
    found = manifest.load_manifest(store.state, name)
    if found is not None:
        return found
    try:
        return Manifest(walk_snapshot(os.fsencode(store.path_of(name))))
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {name}: {exc.strerror}") from None


def snapshot_tree(store: Store, name: str) -> Tree:
    return snapshot_manifest(store, name).tree


def live_source(store: Store, fallback: Path | None = None) -> Path:
    """The live folder a store backs up: the folder the user named (fallback, from
    --mount) wins over the one recorded at its first snapshot."""
    recorded = store.recorded_source()
    source = fallback or recorded
    if source is None:
        raise UsageError(
            f"{store.dest} does not record which folder it backs up",
            hint="use --mount PATH with a config that names this store as a mount's backup",
        )
    return source


def source_note(store: Store, source: Path) -> str | None:
    """A warning when the store records another folder than the one in use."""
    try:
        recorded = store.recorded_source()
    except SnapshotError as exc:
        return exc.message
    if recorded is None or os.path.realpath(recorded) == os.path.realpath(source):
        return None
    gone = "" if os.path.isdir(recorded) else " (which no longer exists)"
    return (
        f"{store.dest} records {show_path(str(recorded))}{gone} as its folder; using "
        f"{show_path(str(source))}. To re-point it: agsekit backup-repoint --dest-dir "
        f"{store.dest} --source-dir {source}"
    )


def recorded_request(store: Store, name: str | None = None) -> dict[str, Any]:
    """The host-side rule settings a snapshot (default: the latest) was taken with, as
    SnapshotRequest keyword arguments."""
    name = name or store.latest()
    stats = store.read_stats(name) if name is not None else {}

    def strings(key: str) -> tuple[str, ...]:
        value = stats.get(key, [])
        return tuple(str(p) for p in value) if isinstance(value, list) else ()

    mode = stats.get("ignore_files")
    return {
        "excludes": strings("excludes"),
        "config_excludes": strings("config_excludes"),
        "ignore_files": mode if mode in ("host", "tree", "both") else "both",
    }


def recorded_excludes(store: Store) -> tuple[str, ...]:
    """The --exclude patterns the latest snapshot was taken with (none if unknown)."""
    return tuple(recorded_request(store)["excludes"])


def live_rules(store: Store) -> RuleSource:
    """The rules a snapshot taken now would apply: the live .backupignore files and the
    host-side patterns of the latest snapshot."""
    return SnapshotRequest(Path("/"), store.dest, **recorded_request(store)).rule_source()


def snapshot_rules(store: Store, name: str, found: Manifest | None = None) -> RuleSource:
    """The rules snapshot `name` was taken with, as a walk can apply them to another
    tree. An old snapshot that did not record them falls back to its .backupignore files
    as the snapshot holds them, and its --exclude patterns."""
    found = found or snapshot_manifest(store, name)
    if found.rules is not None:
        return RuleSource(found.rules.host, found.rules.read_tree, dict(found.rules.files))
    host = SnapshotRequest(Path("/"), store.dest, **recorded_request(store, name)).rule_source()
    return RuleSource(host.host, True, _ignore_files_in(store, name, found.tree))


def _ignore_files_in(store: Store, name: str, tree: Tree) -> dict[bytes, bytes]:
    files: dict[bytes, bytes] = {}
    with fs.opened(fs.open_root(store.path_of(name))) as root:
        for path, meta in tree.items():
            if meta.kind != "f" or os.path.basename(path) != IGNORE_FILE:
                continue
            parent, file_name = fs.parent_and_name(path)
            try:
                fd = fs.open_dir_path(root, parent)
                try:
                    files[parent + b"/" if parent else b""] = fs.read_regular(
                        fd, file_name, IGNORE_FILE_CAP
                    )
                finally:
                    os.close(fd)
            except OSError:
                continue
    return files


def live_walk(
    source: Path,
    store: Store,
    rules: RuleSource | None = None,
    force: frozenset[bytes] = frozenset(),
) -> WalkResult:
    """The live source as a snapshot of it would see it (with `rules`, default
    live_rules). A missing source is empty."""
    root = os.path.realpath(source)
    if not os.path.isdir(root):
        return WalkResult(tree={})
    try:
        rules = rules or live_rules(store)
        return walk_path(root, rules, skip=store.own_folder(), force=force, real=True)
    except OSError as exc:
        raise SnapshotError(f"cannot read {show_path(root)}: {exc.strerror or exc}") from None


def live_tree(source: Path, store: Store) -> Tree:
    return live_walk(source, store).tree


def left_out_paths(store: Store, source: Path) -> list[bytes]:
    """Live paths the ignore rules leave out that the latest snapshot does not hold
    either: what no snapshot protects because of the rules (tops of folders only)."""
    walk = live_walk(source, store)
    latest = store.latest()
    held = snapshot_tree(store, latest) if latest is not None else {}
    return sorted(p for p in walk.excluded if p not in held)
