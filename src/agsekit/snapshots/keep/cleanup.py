"""Retention applied to a real store: plan with plan_retention, then remove, under the lock.

Pinned snapshots and the newest are always kept (see retention.py). The store's lock is
held while removing, so no snapshot is being taken (and none links against a snapshot
being removed). Each removal renames the snapshot out of the snapshot namespace before
deleting it, so an interruption never leaves a half-deleted snapshot behind.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from agsekit.config.model import RetentionPolicy
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.marks import forget_marks, load_marks
from agsekit.snapshots.keep.retention import Decision, SnapshotRef, plan_retention


def plan_clean(
    store: Store, policy: RetentionPolicy, now: datetime | None = None, tz: tzinfo | None = None
) -> list[Decision]:
    marks = load_marks(store)
    refs = [
        SnapshotRef(info.name, info.time, bool(marks.get(info.name) and marks[info.name].pinned))
        for info in store.snapshots()
    ]
    return plan_retention(refs, policy, now or datetime.now(timezone.utc), tz=tz)


def clean_store(
    store: Store,
    policy: RetentionPolicy,
    reporter: Reporter,
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> list[Decision]:
    """Remove what the policy does not keep; returns the decisions that were applied."""
    with store.locked(
        on_wait=lambda: reporter.info(
            f"waiting for another agsekit process that is writing to {store.dest}..."
        )
    ):
        store.empty_trash()  # what an interrupted removal left
        decisions = plan_clean(store, policy, now, tz)
        removed = {d.name for d in decisions if not d.keep}
        for name in sorted(removed):
            store.remove_snapshot(name)
            store.log(f"retention removed {name}")
        forget_marks(store, removed)
    return decisions
