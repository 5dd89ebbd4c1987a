"""The mass-deletion alarm and the other work that follows every new snapshot.

`after_snapshot` is called by everything that takes snapshots (backup-once, the repeated
loops, agent sessions, the safety snapshot of an in-place restore). When the new snapshot
lost many files, the snapshot before it is pinned first, so that the retention applied
next (repeated modes) can never remove it; then the warning is printed, logged and sent
to the desktop.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from agsekit.config.model import AlarmPolicy, RetentionPolicy
from agsekit.core.errors import AgsekitError
from agsekit.core.reporting import Reporter
from agsekit.core.timeparse import format_local
from agsekit.snapshots.engine.snapshot import SnapshotOutcome
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.cleanup import clean_store
from agsekit.snapshots.keep.marks import set_mark
from agsekit.tools import notify

Notifier = Callable[[str, str], bool]


@dataclass(frozen=True)
class Alarm:
    pinned: str  # the snapshot before the deletion, now pinned
    deleted: int
    previous_files: int
    label: str
    restore_command: str


@dataclass(frozen=True)
class Aftermath:
    alarm: Alarm | None
    removed: tuple[str, ...]  # snapshots retention removed


def is_mass_deletion(outcome: SnapshotOutcome, policy: AlarmPolicy) -> bool:
    if not policy.enabled or outcome.status != "created" or outcome.previous is None:
        return False
    previous_files = outcome.total_files - outcome.added + outcome.deleted
    if outcome.deleted <= 0 or previous_files <= 0:
        return False
    return (
        outcome.deleted >= policy.deleted_files
        or outcome.deleted / previous_files >= policy.deleted_fraction
    )


def raise_alarm(
    store: Store,
    outcome: SnapshotOutcome,
    reporter: Reporter,
    *,
    now: datetime | None = None,
    notifier: Notifier = notify.notify,
) -> Alarm:
    """A new snapshot lost many files: pin the one before it and say how to get them back."""
    previous_files = outcome.total_files - outcome.added + outcome.deleted
    return _sound(
        store,
        outcome.previous or "",
        deleted=outcome.deleted,
        previous_files=previous_files,
        reporter=reporter,
        moment=now or datetime.now(timezone.utc),
        notifier=notifier,
    )


def raise_emptied_alarm(
    store: Store,
    latest: str,
    reporter: Reporter,
    *,
    files: int,
    now: datetime | None = None,
    notifier: Notifier = notify.notify,
) -> Alarm:
    """The source is empty (the engine refused to record that): every file of the latest
    snapshot is gone from it."""
    return _sound(
        store,
        latest,
        deleted=files,
        previous_files=files,
        reporter=reporter,
        moment=now or datetime.now(timezone.utc),
        notifier=notifier,
    )


def restore_command(store: Store, name: str) -> str:
    words = ["agsekit", "backup-restore", "--dest-dir", str(store.dest)]
    return shlex.join([*words, "--snapshot", name, "--in-place"])


def _sound(
    store: Store,
    previous: str,
    *,
    deleted: int,
    previous_files: int,
    reporter: Reporter,
    moment: datetime,
    notifier: Notifier,
) -> Alarm:
    label = f"before mass deletion {format_local(moment)}"
    with store.locked():
        set_mark(store, previous, pinned=True, label=label)
    command = restore_command(store, previous)
    alarm = Alarm(previous, deleted, previous_files, label, command)
    source = store.recorded_source() or store.dest
    reporter.warning(
        f"!!! MASS DELETION: {alarm.deleted} of {previous_files} files disappeared from "
        f"{source} since snapshot {previous}.\n"
        f"!!! Snapshot {previous} is pinned ('{label}') and will be kept.\n"
        f"!!! See what is gone:  agsekit backup-deleted --dest-dir {shlex.quote(str(store.dest))}\n"
        f"!!! Bring it back:     {command}"
    )
    store.log(
        f"ALARM mass deletion: {alarm.deleted} of {previous_files} files deleted since "
        f"{previous}; pinned {previous}; restore with: {command}"
    )
    notifier(
        "agsekit: files deleted",
        f"{alarm.deleted} of {previous_files} files deleted from {source}. "
        f"Snapshot {previous} is pinned. Restore: {command}",
    )
    return alarm


def after_snapshot(
    store: Store,
    outcome: SnapshotOutcome,
    reporter: Reporter,
    *,
    alarm: AlarmPolicy,
    retention: RetentionPolicy | None = None,
    notifier: Notifier = notify.notify,
) -> Aftermath:
    """The alarm check, then (when a policy is given) retention. Failures are reported
    and logged, never raised: the snapshot itself is already safe."""
    raised = None
    removed: tuple[str, ...] = ()
    if outcome.status != "created":
        return Aftermath(None, ())
    try:
        if is_mass_deletion(outcome, alarm):
            raised = raise_alarm(store, outcome, reporter, notifier=notifier)
        if retention is not None:
            decisions = clean_store(store, retention, reporter)
            removed = tuple(d.name for d in decisions if not d.keep)
            if removed:
                reporter.info(
                    f"retention removed {len(removed)} old snapshot(s): {', '.join(removed)}"
                )
    except (AgsekitError, OSError) as exc:
        text = exc.message if isinstance(exc, AgsekitError) else str(exc)
        reporter.warning(f"after snapshot {outcome.name}: {text}")
        store.log(f"after snapshot {outcome.name} failed: {text}")
    return Aftermath(raised, removed)
