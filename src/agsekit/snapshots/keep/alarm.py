"""The mass-deletion alarm and the other work that follows every new snapshot.

`after_snapshot` runs with the store's lock held, right after a snapshot was taken (or
refused), for everything that takes snapshots: backup-once, the repeated loops, agent
sessions, the safety snapshot of an in-place restore.

The alarm weighs content that is gone, not only file counts: a file deleted, emptied,
truncated, or turned into a folder, a symlink or a FIFO is lost; a renamed file (its
content is elsewhere in the new snapshot) is not. Losses are measured from a reference
that an agent cannot move step by step: in a session, the state at its start; otherwise
the state the user last acknowledged (an alarm, a restore, a pin), else the newest
snapshot at least an hour old, else the oldest. When the alarm fires, every snapshot
that holds the newest copy of some lost file is pinned, the loss is recorded so that one
command brings all of it back (`backup-restore --lost-in ID --in-place`), it is printed,
logged and sent to the desktop; retention then runs with all of those protected.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from agsekit.config.model import AlarmPolicy, RetentionPolicy
from agsekit.core.display import format_bytes, shell_join, show_path
from agsekit.core.errors import AgsekitError
from agsekit.core.reporting import Reporter
from agsekit.core.timeparse import format_local
from agsekit.snapshots.engine.names import format_name, parse_name
from agsekit.snapshots.engine.snapshot import SnapshotOutcome
from agsekit.snapshots.engine.store import Store, write_atomic
from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Meta, Tree
from agsekit.snapshots.history.catalog import snapshot_tree
from agsekit.snapshots.keep import baseline
from agsekit.snapshots.keep.cleanup import clean_store
from agsekit.snapshots.keep.marks import load_marks, set_mark
from agsekit.tools import notify

Notifier = Callable[[str, str], bool]
OLD_ENOUGH = timedelta(hours=1)
SHOWN = 10


@dataclass(frozen=True)
class Loss:
    reference: str
    lost: tuple[bytes, ...]  # files and links of the reference whose content is gone
    lost_bytes: int
    reference_files: int
    reference_bytes: int
    changed_kind: tuple[bytes, ...] = ()  # of those: now a folder, a symlink, something else
    left_out: tuple[bytes, ...] = ()  # of those: still there, but now ignored by the rules
    lost_folders: tuple[bytes, ...] = ()  # empty folders of the reference that are gone
    rewritten: tuple[bytes, ...] = ()  # files overwritten with other content of the same size


@dataclass(frozen=True)
class Alarm:
    id: str
    reference: str
    pinned: tuple[str, ...]  # the snapshots now pinned because they hold lost files
    deleted: int  # files lost
    previous_files: int  # files in the reference
    lost_bytes: int
    label: str
    restore_command: str


@dataclass(frozen=True)
class Aftermath:
    alarm: Alarm | None
    removed: tuple[str, ...]  # snapshots retention removed
    problems: tuple[str, ...] = field(default_factory=tuple)


def _content_key(meta: Meta) -> tuple[object, ...]:
    if meta.kind == LINK:
        return (LINK, meta.target)
    if meta.digest is not None:
        return (FILE, meta.digest)
    return (FILE, meta.size, meta.mtime_ns)


def measure_loss(reference: str, old: Tree, new: Tree, left_out: tuple[bytes, ...] = ()) -> Loss:
    """What of `old`'s content `new` no longer holds anywhere."""
    present = {_content_key(m) for m in new.values() if m.kind in (FILE, LINK) and m.size >= 0}
    lost: list[bytes] = []
    changed_kind: list[bytes] = []
    rewritten: list[bytes] = []
    lost_bytes = files = total = 0
    for path, meta in old.items():
        if meta.kind == DIR:
            continue
        files += 1
        total += meta.size
        now = new.get(path)
        if now is not None and now.kind == meta.kind:
            if meta.kind == FILE:
                lost_bytes += max(0, meta.size - now.size)
                if now.size == 0 and meta.size > 0:
                    lost.append(path)
                elif _rewritten(meta, now):
                    rewritten.append(path)
            continue
        if _content_key(meta) in present and (meta.kind == LINK or meta.size > 0):
            continue  # renamed or copied: the content is still there
        lost.append(path)
        lost_bytes += meta.size
        if now is not None:
            changed_kind.append(path)
    kept_out = tuple(p for p in left_out if p in set(lost))
    parents = {p.rpartition(b"/")[0] for p in old if p}
    folders = tuple(
        p for p, m in old.items() if p and m.kind == DIR and p not in new and p not in parents
    )
    return Loss(
        reference,
        tuple(lost),
        lost_bytes,
        files,
        total,
        tuple(changed_kind),
        kept_out,
        folders,
        tuple(rewritten),
    )


def _rewritten(old: Meta, new: Meta) -> bool:
    """Other content of exactly the same size (what encrypting a file in place gives)."""
    return (
        old.size == new.size > 0
        and old.digest is not None
        and new.digest is not None
        and old.digest != new.digest
    )


REWRITTEN_AT_LEAST = 10  # files, before same-size rewrites of most of a tree sound the alarm


def is_alarming(loss: Loss, policy: AlarmPolicy) -> bool:
    if not policy.enabled or loss.reference_files <= 0:
        return False
    count = len(loss.lost)
    by_bytes = loss.reference_bytes > 0 and loss.lost_bytes / loss.reference_bytes >= (
        policy.deleted_fraction
    )
    rewrites = len(loss.rewritten)
    by_rewrites = (
        rewrites >= REWRITTEN_AT_LEAST
        and (rewrites + count) / loss.reference_files >= policy.deleted_fraction
    )
    return (
        bool(count)
        and (
            count >= policy.deleted_files
            or count / loss.reference_files >= policy.deleted_fraction
            or by_bytes
        )
    ) or by_rewrites


AGES = (timedelta(hours=1), timedelta(days=1), timedelta(weeks=1))


def choose_references(
    store: Store, new: str | None, *, session_start: str | None, now: datetime
) -> list[str]:
    """Every state losses are measured from: the acknowledged one (or the session's
    start), and the newest snapshots at least an hour, a day and a week old that are not
    older than it (else the oldest such), so that neither small steps nor junk added in
    between hide a loss. Losses spread thinner than the threshold per week are not called
    a mass deletion."""
    first = choose_reference(store, new, session_start=session_start, now=now)
    if first is None:
        return []
    names = [n for n in store.snapshot_names() if n != new]
    floor = names.index(first) if first in names else 0
    designated = session_start is not None or _designated(store, names, new) is not None
    candidates = names[floor:] if designated else names
    found = [first]
    for age in AGES:
        old_enough = [n for n in candidates if parse_name(n) <= now - age]
        pick = old_enough[-1] if old_enough else candidates[0]
        if pick not in found:
            found.append(pick)
    return found


def _designated(store: Store, names: list[str], new: str | None) -> str | None:
    marked = baseline.baseline(store)
    designated: list[tuple[str, str]] = []
    if marked is not None and marked[0] != new:
        designated.append((marked[1], marked[0]))
    for name, mark in load_marks(store).items():
        if mark.pinned and mark.kind != "undo" and name in names:
            designated.append((mark.pinned_at or "", name))
    return max(designated)[1] if designated else None


def choose_reference(
    store: Store, new: str | None, *, session_start: str | None, now: datetime
) -> str | None:
    """The first state losses are measured from (see the module docstring)."""
    names = [n for n in store.snapshot_names() if n != new]
    if not names:
        return None
    marked = baseline.baseline(store)
    if session_start is not None and session_start in names:
        if (
            marked is not None
            and marked[0] != new
            and names.index(marked[0]) > names.index(session_start)
        ):
            return marked[0]
        return session_start
    chosen = _designated(store, names, new)
    if chosen is not None:
        return chosen
    old_enough = [n for n in names if parse_name(n) <= now - OLD_ENOUGH]
    return old_enough[-1] if old_enough else names[0]


def _holders(
    store: Store, lost: tuple[bytes, ...], reference: str, new: str | None
) -> dict[str, list[bytes]]:
    """For each lost file, the newest snapshot before `new` that holds it."""
    names = store.snapshot_names()
    stop = names.index(reference)
    end = names.index(new) if new in names else len(names)
    remaining = set(lost)
    found: dict[str, list[bytes]] = {}
    for name in reversed(names[stop:end]):
        if not remaining:
            break
        tree = snapshot_tree(store, name) if name != reference or remaining else {}
        hits = sorted(p for p in remaining if p in tree and tree[p].kind in (FILE, LINK))
        if hits:
            found[name] = hits
            remaining.difference_update(hits)
    return found


def restore_command(
    store: Store, *choice: str, delete: bool = False, paths: tuple[bytes, ...] = ()
) -> str:
    """The one way agsekit spells an in-place restore command for people to paste:
    `choice` is e.g. ("--snapshot", NAME) or ("--lost-in", ID); paths come last, after
    `--`, so that a name starting with `-` stays a name."""
    words: list[str | bytes] = ["agsekit", "backup-restore", "--dest-dir", str(store.dest)]
    words += [*choice, "--in-place", *(["--delete"] if delete else [])]
    return shell_join([*words, "--", *paths] if paths else words)


def lost_restore_command(store: Store, alarm_id: str) -> str:
    return restore_command(store, "--lost-in", alarm_id)


def raise_alarm(
    store: Store,
    loss: Loss,
    new: str | None,
    reporter: Reporter,
    *,
    now: datetime,
    notifier: Notifier,
) -> Alarm | None:
    """Pin what holds the lost files, record the loss and say so; None when this loss
    was already announced."""
    last = baseline.last_alarm(store)
    gone = loss.lost + loss.rewritten
    if last.get("reference") == loss.reference and set(map(_text, gone)) <= set(
        last.get("lost", [])
    ):
        return None
    holders = _holders(store, loss.lost, loss.reference, new)
    for extra in (loss.lost_folders, loss.rewritten):  # the reference holds them as they were
        if extra:
            holders.setdefault(loss.reference, []).extend(extra)
    label = f"before mass deletion {format_local(now)}"
    for name in holders:
        set_mark(store, name, pinned=True, label=label, kind="alarm", keep_label=True)
    alarm_id = format_name(now)
    record = {
        "id": alarm_id,
        "reference": loss.reference,
        "snapshot": new,
        "lost": {name: [_text(p) for p in paths] for name, paths in holders.items()},
    }
    write_atomic(store.state / "alarms" / f"{alarm_id}.json", json.dumps(record) + "\n")
    baseline.remember_alarm(
        store, {"id": alarm_id, "reference": loss.reference, "lost": sorted(map(_text, gone))}
    )
    if new is not None:
        baseline.set_baseline(store, new, "alarm")
    command = lost_restore_command(store, alarm_id)
    alarm = Alarm(
        alarm_id,
        loss.reference,
        tuple(holders),
        len(loss.lost),
        loss.reference_files,
        loss.lost_bytes,
        label,
        command,
    )
    _announce(store, alarm, loss, reporter, notifier)
    return alarm


def _text(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


def _announce(
    store: Store, alarm: Alarm, loss: Loss, reporter: Reporter, notifier: Notifier
) -> None:
    source = store.recorded_source() or store.dest
    shown = ", ".join(show_path(p) for p in loss.lost[:SHOWN])
    more = f" and {len(loss.lost) - SHOWN} more" if len(loss.lost) > SHOWN else ""
    detail = []
    if loss.changed_kind:
        detail.append(f"{len(loss.changed_kind)} became folders, symlinks or special files")
    if loss.left_out:
        detail.append(f"{len(loss.left_out)} are still there but now left out by the ignore rules")
    if loss.rewritten:
        detail.append(
            f"and {len(loss.rewritten)} more were overwritten with other content of the same size"
        )
    extra = f" ({'; '.join(detail)})" if detail else ""
    kept = ", ".join(alarm.pinned)
    dest = shell_join([str(store.dest)])
    what = "MASS DELETION" if loss.lost else "MASS OVERWRITE"
    if not loss.lost:
        shown = ", ".join(show_path(p) for p in loss.rewritten[:SHOWN])
        more = f" and {len(loss.rewritten) - SHOWN} more" if len(loss.rewritten) > SHOWN else ""
    reporter.warning(
        f"!!! {what}: {alarm.deleted} of {alarm.previous_files} files "
        f"({format_bytes(alarm.lost_bytes)} of {format_bytes(loss.reference_bytes)}) are gone "
        f"from {show_path(str(source))} since snapshot {alarm.reference}{extra}: {shown}{more}.\n"
        f"!!! Pinned ('{alarm.label}') and kept: {kept}.\n"
        f"!!! See what is gone:  agsekit backup-deleted --dest-dir {dest}\n"
        f"!!! Bring it all back: {alarm.restore_command}"
    )
    store.log(
        f"ALARM mass deletion: {alarm.deleted} of {alarm.previous_files} files lost since "
        f"{alarm.reference}; pinned {kept}; restore with: {alarm.restore_command}"
    )
    notifier(
        "agsekit: files deleted",
        f"{alarm.deleted} of {alarm.previous_files} files gone from {source}. "
        f"Kept in snapshots {kept}. Restore: {alarm.restore_command}",
    )


def notify_refusal(store: Store, message: str, reporter: Reporter, notifier: Notifier) -> None:
    """A snapshot the store could not take (no room): said once per distinct reason."""
    last = baseline.last_alarm(store)
    if last.get("refusal") == message:
        return
    baseline.remember_alarm(store, {**last, "refusal": message})
    store.log(f"ALARM snapshots stopped: {message}")
    notifier("agsekit: snapshots stopped", message)
    reporter.warning(f"!!! SNAPSHOTS STOPPED: {message}")


def after_snapshot(
    store: Store,
    outcome: SnapshotOutcome,
    reporter: Reporter,
    *,
    alarm: AlarmPolicy,
    retention: RetentionPolicy | None = None,
    session_start: str | None = None,
    notifier: Notifier = notify.notify,
    now: datetime | None = None,
    remember: bool = True,
) -> Aftermath:
    """The alarm check, then (when a policy is given) retention, protecting what the
    alarm pinned. Failures are reported and logged, never raised: the snapshot itself is
    already safe. Unless told the alarm policy is not the config's (`remember=False`),
    the store remembers it, for the runs that find the config broken."""
    moment = now or datetime.now(timezone.utc)
    raised = None
    removed: tuple[str, ...] = ()
    problems: list[str] = []
    if remember:
        with contextlib.suppress(OSError):  # best effort: never in the alarm's way
            baseline.remember_policy(store, policy_record(alarm))
    try:
        if outcome.status == "refused" and outcome.refused == "space":
            notify_refusal(store, outcome.message or "no room", reporter, notifier)
            return Aftermath(None, ())
        loss = _measure(store, outcome, alarm, session_start, moment)
        if loss is not None:
            raised = raise_alarm(
                store, loss, _new_name(outcome), reporter, now=moment, notifier=notifier
            )
        if retention is not None and outcome.status == "created":
            protected = {outcome.name} if outcome.name else set()
            if session_start:
                protected.add(session_start)
            decisions = clean_store(store, retention, reporter, protected=frozenset(protected))
            removed = tuple(d.name for d in decisions if not d.keep)
            if removed:
                reporter.info(
                    f"retention removed {len(removed)} old snapshot(s): {', '.join(removed)}"
                )
    except (AgsekitError, OSError) as exc:
        text = exc.message if isinstance(exc, AgsekitError) else str(exc)
        reporter.warning(f"after snapshot {outcome.name}: {text}")
        store.log(f"after snapshot {outcome.name} failed: {text}")
        problems.append(text)
    return Aftermath(raised, removed, tuple(problems))


def policy_record(policy: AlarmPolicy) -> dict[str, object]:
    return {
        "enabled": policy.enabled,
        "deleted_fraction": policy.deleted_fraction,
        "deleted_files": policy.deleted_files,
    }


def remembered_policy(store: Store) -> AlarmPolicy | None:
    """The alarm policy of the last config that loaded for this store, if it is sound."""
    record = baseline.remembered_policy(store)
    if record is None:
        return None
    enabled, fraction, files = (
        record.get("enabled"),
        record.get("deleted_fraction"),
        record.get("deleted_files"),
    )
    if not isinstance(enabled, bool) or isinstance(fraction, bool) or isinstance(files, bool):
        return None
    if not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        return None
    if not isinstance(files, int) or files < 1:
        return None
    return AlarmPolicy(float(fraction), files, enabled)


def _new_name(outcome: SnapshotOutcome) -> str | None:
    return outcome.name if outcome.status == "created" else None


def _measure(
    store: Store,
    outcome: SnapshotOutcome,
    policy: AlarmPolicy,
    session_start: str | None,
    now: datetime,
) -> Loss | None:
    """The worst loss against the references, when it is large enough to sound the
    alarm."""
    if not policy.enabled or outcome.status == "unchanged":
        return None
    new = _new_name(outcome)
    new_tree: Tree = {}
    if new is not None:
        new_tree = outcome.tree if outcome.tree is not None else snapshot_tree(store, new)
    worst: Loss | None = None
    for reference in choose_references(store, new, session_start=session_start, now=now):
        if reference == outcome.previous and outcome.previous_tree is not None:
            old_tree = outcome.previous_tree
        else:
            old_tree = snapshot_tree(store, reference)
        loss = measure_loss(reference, old_tree, new_tree, outcome.newly_excluded)
        if is_alarming(loss, policy) and (worst is None or _weight(loss) > _weight(worst)):
            worst = loss
    return worst


def _weight(loss: Loss) -> float:
    return (len(loss.lost) + len(loss.rewritten)) / max(loss.reference_files, 1)
