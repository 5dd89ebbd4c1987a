"""Retention applied to a real store: plan with plan_retention, then remove, under the lock.

Pinned snapshots, the newest, and every name in `protected` are always kept (see
retention.py). The store's lock is held while removing, so no snapshot is being taken (and
none links against a snapshot being removed). Each removal renames the snapshot out of the
snapshot namespace before deleting it, so an interruption never leaves a half-deleted
snapshot behind. Pins that cannot be read stop retention (MarksDamaged): it never guesses
that nothing is pinned.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from agsekit.config.model import RetentionPolicy
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine.snapshot import lock_wait_message
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.marks import forget_marks, load_marks
from agsekit.snapshots.keep.retention import Decision, SnapshotRef, plan_retention


def plan_clean(
    store: Store,
    policy: RetentionPolicy,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    protected: frozenset[str] = frozenset(),
) -> list[Decision]:
    marks = load_marks(store)
    refs = [
        SnapshotRef(info.name, info.time, bool(marks.get(info.name) and marks[info.name].pinned))
        for info in store.snapshots()
    ]
    newest = store.latest()
    keep = protected | ({newest} if newest else set())
    return plan_retention(refs, policy, now or datetime.now(timezone.utc), protected=keep, tz=tz)


def clean_store(
    store: Store,
    policy: RetentionPolicy,
    reporter: Reporter,
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    protected: frozenset[str] = frozenset(),
) -> list[Decision]:
    """Remove what the policy does not keep; returns the decisions that were applied."""
    with store.locked(on_wait=lambda: reporter.info(lock_wait_message(store))):
        store.sweep_temporary()  # a state file whose write was interrupted (labels.json)
        for problem in store.empty_trash():  # what an interrupted removal left
            reporter.warning(problem)
        decisions = plan_clean(store, policy, now, tz, protected)
        removed = {d.name for d in decisions if not d.keep}
        for name in sorted(removed):
            store.remove_snapshot(name)
            store.log(f"retention removed {name}")
        forget_marks(store, removed)
    return decisions
