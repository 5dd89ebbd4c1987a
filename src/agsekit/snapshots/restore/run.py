"""Restores as the commands run them: into a new folder, or back into the live source.

An in-place restore first snapshots the live folder (labelled "before restore of NAME"),
so the restore itself can be undone by restoring that snapshot. When nothing changed since
the latest snapshot, that snapshot already is the point to return to. The restore then
runs with the store's lock held, so retention cannot remove the snapshot being read and
no snapshot records a half-restored tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agsekit.core.errors import NothingToSnapshotError
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine.snapshot import SnapshotOutcome, SnapshotRequest, take_snapshot
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.history.catalog import recorded_excludes
from agsekit.snapshots.restore.plan import (
    RestorePlan,
    RestoreResult,
    apply_restore,
    check_restore_folder,
    plan_restore,
)

OutcomeHook = Callable[[SnapshotOutcome], None]


@dataclass(frozen=True)
class SafetyPoint:
    """Where to go back to after an in-place restore."""

    name: str | None  # None: the live folder held no files, there was nothing to save
    created: bool  # False: the latest snapshot already held the live state


@dataclass(frozen=True)
class RestoreRun:
    plan: RestorePlan
    result: RestoreResult | None  # None for a dry run
    safety: SafetyPoint | None  # in-place restores only


def restore_to_folder(
    store: Store,
    snapshot: str,
    folder: Path,
    paths: list[bytes],
    reporter: Reporter,
    *,
    source: Path | None,
    delete: bool = False,
    force: bool = False,
    dry_run: bool = False,
) -> RestoreRun:
    check_restore_folder(folder, store, source, force)
    if dry_run:
        return RestoreRun(plan_restore(store, snapshot, folder, paths, delete=delete), None, None)
    with store.locked(on_wait=lambda: _waiting(reporter, store)):
        plan = plan_restore(store, snapshot, folder, paths, delete=delete)
        return RestoreRun(plan, apply_restore(plan, reporter), None)


def restore_in_place(
    store: Store,
    snapshot: str,
    source: Path,
    paths: list[bytes],
    reporter: Reporter,
    *,
    delete: bool = False,
    dry_run: bool = False,
    after_snapshot: OutcomeHook | None = None,
) -> RestoreRun:
    if dry_run:
        return RestoreRun(plan_restore(store, snapshot, source, paths, delete=delete), None, None)
    safety = save_live_state(store, source, snapshot, reporter, after_snapshot)
    with store.locked(on_wait=lambda: _waiting(reporter, store)):
        plan = plan_restore(store, snapshot, source, paths, delete=delete)
        result = apply_restore(plan, reporter)
    store.log(
        f"restored {snapshot} into {source}: {result.files} files, {result.deleted} removed"
        + (f"; undo with {safety.name}" if safety.name else "")
    )
    return RestoreRun(plan, result, safety)


def save_live_state(
    store: Store,
    source: Path,
    snapshot: str,
    reporter: Reporter,
    after_snapshot: OutcomeHook | None,
) -> SafetyPoint:
    """Snapshot the live folder before it is overwritten."""
    if not source.is_dir():
        return SafetyPoint(None, False)
    request = SnapshotRequest(
        source, store.dest, recorded_excludes(store), label=f"before restore of {snapshot}"
    )
    try:
        outcome = take_snapshot(request, reporter)
    except NothingToSnapshotError:
        return SafetyPoint(None, False)
    if outcome.status == "created" and after_snapshot is not None:
        after_snapshot(outcome)
    return SafetyPoint(outcome.name, outcome.status == "created")


def _waiting(reporter: Reporter, store: Store) -> None:
    reporter.info(f"waiting for another agsekit process that is writing to {store.dest}...")
