"""Restores as the commands run them: into a new folder, or back into the live source.

An in-place restore holds the store's lock from its plan to its last write. Before it
changes anything it takes a safety snapshot that holds every path the restore will
overwrite or remove, whatever the live ignore rules say, and pins it (labelled "before
restore of NAME"), so the restore can always be undone, and retention never removes the
undo point. A path the safety snapshot could not save is left alone and named; a FIFO,
socket or device where the snapshot has an entry holds no content, so it is replaced
(and named), although no snapshot, and so no undo, can bring such a file back. The caller
is told about the safety snapshot as soon as it exists (`on_safety`), so that the undo
command is printed even when the restore then fails or is stopped half-way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agsekit.core.errors import NothingToSnapshotError
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine.snapshot import (
    After,
    SnapshotOutcome,
    SnapshotRequest,
    check_recorded_source,
    lock_wait_message,
    take_snapshot,
)
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.engine.tree import DIR, LINK, Tree
from agsekit.snapshots.history.catalog import recorded_request, snapshot_tree
from agsekit.snapshots.keep.baseline import set_baseline
from agsekit.snapshots.keep.marks import load_marks, set_mark
from agsekit.snapshots.restore.apply import RestoreResult, apply_restore, discard_leftovers
from agsekit.snapshots.restore.plan import (
    RestorePlan,
    Seen,
    Wanted,
    check_restore_folder,
    plan_restore,
)
from agsekit.tools import root as fs


@dataclass(frozen=True)
class SafetyPoint:
    """Where to go back to after an in-place restore."""

    name: str | None  # None: the restore overwrites and removes nothing, only creates
    created: bool  # False: the latest snapshot already held the live state
    hidden: tuple[bytes, ...] = ()  # saved although only the live rules hid them


@dataclass
class RestoreRun:
    plan: RestorePlan
    result: RestoreResult | None  # None for a dry run
    safety: SafetyPoint | None  # in-place restores only
    unsaved: list[bytes] = field(default_factory=list)


def undo_label(snapshot: str) -> str:
    return f"before restore of {snapshot}"


def restore_to_folder(
    store: Store,
    wanted: list[Wanted],
    folder: Path,
    reporter: Reporter,
    *,
    source: Path | None,
    delete: bool = False,
    force: bool = False,
    dry_run: bool = False,
) -> RestoreRun:
    check_restore_folder(folder, store, source, force)
    real = Path(os.path.realpath(folder))
    if dry_run:
        return RestoreRun(plan_restore(store, wanted, real, delete=delete), None, None)
    with store.locked(on_wait=lambda: reporter.info(lock_wait_message(store))):
        plan = plan_restore(store, wanted, real, delete=delete)
        return RestoreRun(plan, apply_restore(plan, store, reporter), None)


def restore_in_place(
    store: Store,
    wanted: list[Wanted],
    source: Path,
    reporter: Reporter,
    *,
    delete: bool = False,
    dry_run: bool = False,
    after: After | None = None,
    on_safety: Callable[[RestoreRun], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> RestoreRun:
    with store.locked(on_wait=lambda: reporter.info(lock_wait_message(store))):
        # the folder the store records, found by its real path: never where a symlink
        # swapped in for it (or for a folder above it) leads
        real = Path(os.path.realpath(source))
        check_recorded_source(store, real)
        plan = plan_restore(store, wanted, real, delete=delete)
        if dry_run:
            return RestoreRun(plan, None, None)
        run = RestoreRun(plan, None, None)
        discard_leftovers(plan)
        run.safety, run.unsaved = _save_live_state(store, plan, source, reporter, after)
        if on_safety is not None:
            on_safety(run)
        run.result = apply_restore(plan, store, reporter, skip=run.unsaved, cancelled=cancelled)
        _set_baseline(store, plan)
    undo = f"; undo with {run.safety.name}" if run.safety.name else ""
    store.log(
        f"restored {plan.snapshot} into {source}: {run.result.files} files, "
        f"{run.result.deleted} removed{undo}"
    )
    return run


def _save_live_state(
    store: Store, plan: RestorePlan, source: Path, reporter: Reporter, after: After | None
) -> tuple[SafetyPoint, list[bytes]]:
    """Snapshot the live folder, forcing in every path the restore will change; returns
    the undo point and the touched paths it could not save."""
    touched = plan.touched
    if not touched:
        return SafetyPoint(None, False), []
    absent = frozenset((p, plan.entries[p].kind == DIR) for p in plan.create)
    request = SnapshotRequest(
        source,
        store.dest,
        **recorded_request(store),
        label=undo_label(plan.snapshot),
        force=frozenset(touched),
        absent=absent,
    )
    try:
        outcome = take_snapshot(request, reporter, after=after)
    except NothingToSnapshotError:
        return SafetyPoint(None, False), touched  # only empty folders: leave them alone
    name = outcome.name
    if name is None:
        return SafetyPoint(None, False), touched
    # an undo point, not an acknowledged state: the alarm measures from the restored
    # snapshot, not from what the restore replaced (a pin set for another reason stays)
    old = load_marks(store).get(name)
    kind = old.kind if old is not None and old.pinned else "undo"
    set_mark(store, name, pinned=True, label=undo_label(plan.snapshot), kind=kind, keep_label=True)
    saved = snapshot_tree(store, name)
    special = set(plan.special)
    unsaved = [p for p in touched if p not in special and not _holds(saved, plan, p)]
    return SafetyPoint(name, outcome.status == "created", _hidden(outcome)), unsaved


def _hidden(outcome: SnapshotOutcome) -> tuple[bytes, ...]:
    return outcome.forced_in


def _holds(saved: Tree, plan: RestorePlan, path: bytes) -> bool:
    """The safety snapshot holds the very entry the plan saw at path, as it is now: not a
    copy carried over from an older snapshot because the live file could not be read; for
    a symlink, one with its target (an unchanged safety snapshot keeps the inode of an
    earlier, same link, such as one an agent planted again after a restore removed it)."""
    meta = saved.get(path)
    seen = plan.live.get(path)
    if meta is None or seen is None:
        return False
    if meta.kind == DIR or (meta.ino, meta.ctime_ns) == (seen.ino, seen.ctime_ns):
        return True
    return meta.kind == LINK and _live_link(plan, path, seen) == meta.target


def _live_link(plan: RestorePlan, path: bytes, seen: Seen) -> bytes | None:
    """The target of the live symlink at path, while it is the one the plan saw."""
    parent, name = fs.parent_and_name(path)
    try:
        with (
            fs.opened(fs.open_real(plan.target)) as root,
            fs.opened(fs.open_dir_path(root, parent)) as folder,
        ):
            return fs.link_target_at(folder, name, seen.identity)
    except OSError:
        return None


def _set_baseline(store: Store, plan: RestorePlan) -> None:
    """After an in-place restore, the restored snapshot is the state the user chose: the
    mass-deletion alarm measures later losses from it."""
    set_baseline(store, plan.snapshot, "restore")
