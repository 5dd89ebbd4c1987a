"""Take one snapshot: the engine's only write path into a store.

Sequence, all under the store's lock:
  1. clear what an interrupted run left (`-partial` folders, temporary files, the trash);
  2. check that the store belongs to this source;
  3. fast no-change check (fingerprint), else walk the source and compare it with the
     latest snapshot's manifest (content decides where only inode or ctime differ);
     no change -> no snapshot;
  4. refuse to record a source that looks wiped, unmounted or wholly ignored, or a
     snapshot the store has no room for;
  5. build `<name>-partial` (links for unchanged files, verified copies for the rest),
     write its manifest, flush it to disk, and only then rename it to `<name>`;
  6. the caller's aftercare (the alarm, pins, retention) runs under the same lock.
A crash at any point leaves at most a `-partial` folder, which step 1 removes next time.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from agsekit.core.display import shell_join, show_path
from agsekit.core.errors import NothingToSnapshotError, SnapshotError, UsageError
from agsekit.core.paths import is_inside
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine import fastcheck, manifest, space
from agsekit.snapshots.engine.build import BuildResult, Previous, build_snapshot
from agsekit.snapshots.engine.compare import Changes, compare
from agsekit.snapshots.engine.content import refreshed, settle_by_content
from agsekit.snapshots.engine.manifest import Manifest, Rules
from agsekit.snapshots.engine.names import FUTURE_TOLERANCE, PARTIAL_SUFFIX, name_for, parse_name
from agsekit.snapshots.engine.store import Store, write_atomic
from agsekit.snapshots.engine.tree import DIR, FILE, Tree
from agsekit.snapshots.engine.walk import RuleSource, WalkResult, walk_snapshot, walk_tree
from agsekit.snapshots.ignore.files import ignore_file_rules
from agsekit.tools import root as fs

Status = Literal["created", "unchanged", "refused"]
SHOWN = 10


@dataclass(frozen=True)
class SnapshotRequest:
    source: Path
    dest: Path
    excludes: tuple[str, ...] = ()  # --exclude: always applied
    config_excludes: tuple[str, ...] = ()  # the mount's `exclude:` in the config
    ignore_files: str = "both"  # host | tree | both
    reserve: float = 0.05
    label: str | None = None
    force: frozenset[bytes] = frozenset()  # kept whatever the rules (safety snapshots)
    absent: frozenset[tuple[bytes, bool]] = frozenset()  # (path, is_dir) a restore creates

    def rule_source(self) -> RuleSource:
        host: list[tuple[str, tuple[str, ...]]] = []
        if self.excludes:
            host.append(("--exclude", self.excludes))
        if self.config_excludes and self.ignore_files != "tree":
            host.append(("the config's exclude", self.config_excludes))
        return RuleSource(tuple(host), read_tree=self.ignore_files != "host")


@dataclass(frozen=True)
class SnapshotOutcome:
    status: Status
    name: str | None  # the new snapshot, or the latest one when nothing changed
    previous: str | None
    added: int = 0
    modified: int = 0
    deleted: int = 0
    total_files: int = 0
    total_bytes: int = 0
    copied_files: int = 0
    copied_bytes: int = 0
    linked_files: int = 0
    incomplete: bool = False  # some files could not be read
    warnings: tuple[str, ...] = field(default_factory=tuple)
    deleted_paths: tuple[bytes, ...] = field(default_factory=tuple)
    newly_excluded: tuple[bytes, ...] = ()  # held by the previous snapshot, now ignored
    forced_in: tuple[bytes, ...] = ()  # kept only because the request forced them
    refused: str | None = None  # "empty", "excluded" or "space"
    message: str | None = None  # why it was refused
    # what the new and the previous snapshot hold, for the aftercare (not shown)
    tree: Tree | None = field(default=None, repr=False, compare=False)
    previous_tree: Tree | None = field(default=None, repr=False, compare=False)


After = Callable[[SnapshotOutcome], None]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class _Paths:
    source: Path
    source_b: bytes
    store: Store


def check_placement(source: Path, dest: Path) -> None:
    """Refuse a store that is the source, holds it or lies inside it: problems that no
    retry can fix (a loop checks this once, up front; a missing source it retries)."""
    src = Path(os.path.abspath(source))
    real_src = Path(os.path.realpath(src))
    real_dest = Path(os.path.realpath(dest))
    if real_dest == real_src:
        raise UsageError(f"the snapshot folder cannot be the source itself ({src})")
    if is_inside(real_src, real_dest):
        raise UsageError(
            f"the source {src} lies inside the snapshot folder {dest}",
            hint="choose a --dest-dir outside the folder you back up",
        )
    if is_inside(real_dest, real_src):
        raise UsageError(
            f"the snapshot folder {dest} lies inside the source {src}: whatever works in the "
            "source (an agent) could delete or tamper with the snapshots there",
            hint="choose a --dest-dir outside the folder you back up, e.g. beside it",
        )


def check_paths(source: Path, dest: Path) -> _Paths:
    """Refuse impossible source/store combinations before anything is created."""
    src = Path(os.path.abspath(source))
    if not os.path.lexists(src):
        raise UsageError(f"source folder {show_path(str(src))} does not exist")
    if not src.is_dir():
        raise UsageError(f"source {show_path(str(src))} is not a folder")
    check_placement(src, dest)
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise UsageError(f"snapshot folder {dest} exists and is not a folder")
    real_src = Path(os.path.realpath(src))
    return _Paths(real_src, os.fsencode(real_src), Store(Path(dest)))


def take_snapshot(
    request: SnapshotRequest,
    reporter: Reporter,
    *,
    clock: Callable[[], datetime] = utc_now,
    refuse_empty: bool = True,
    after: After | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SnapshotOutcome:
    """Take a snapshot of request.source into request.dest if anything changed.

    `after` runs with the store's lock still held, for created and refused outcomes (the
    alarm and retention). Raises NothingToSnapshotError when the source is empty or
    wholly ignored but the latest snapshot is not (refuse_empty=False turns that into a
    "refused" outcome); SnapshotError when the store has no room for it."""
    paths = check_paths(request.source, request.dest)
    store = paths.store
    with store.locked(on_wait=lambda: reporter.info(lock_wait_message(store))):
        try:
            outcome = _take_locked(request, paths, reporter, clock, cancelled)
        except OSError as exc:  # a full disk, a permission problem: older snapshots intact
            raise SnapshotError(
                describe_os_error(f"snapshot of {paths.source} failed", exc)
            ) from exc
        if after is not None and outcome.status != "unchanged":
            after(outcome)
    if outcome.status == "refused":
        if outcome.refused == "space":
            raise SnapshotError(outcome.message or "not enough room for the snapshot")
        if refuse_empty:
            raise NothingToSnapshotError(outcome.message or "the source is empty")
        reporter.warning(outcome.message or "the source is empty")
    return outcome


def lock_wait_message(store: Store) -> str:
    return f"waiting for another agsekit process that is writing to {store.dest}..."


def describe_os_error(what: str, exc: OSError) -> str:
    where = f" ({show_path(os.fsdecode(exc.filename))})" if exc.filename else ""
    return f"{what}: {exc.strerror or exc}{where}"


@dataclass
class _Run:
    """One snapshot being taken: what the later steps need to know."""

    request: SnapshotRequest
    paths: _Paths
    latest: str | None
    walk: WalkResult
    previous: Tree
    started: datetime
    changes: Changes
    settled: list[bytes]
    warnings: list[str] = field(default_factory=list)
    newly_excluded: list[bytes] = field(default_factory=list)
    name: str = ""
    previous_rules: Rules | None = None  # what the latest snapshot recorded

    @property
    def store(self) -> Store:
        return self.paths.store

    @property
    def safety(self) -> bool:
        return bool(self.request.force or self.request.absent)

    @property
    def complete(self) -> bool:
        return not (self.walk.unreadable or self.walk.unreadable_dirs)


@dataclass
class _Fingerprint:
    """The fast no-change check: a fingerprint of the source's metadata taken before the
    walk it vouches for, compared with the one recorded at the last run."""

    file: Path
    context: str
    prune: tuple[bytes, ...]
    state: fastcheck.FastCheckState | None
    before_walk: str | None

    @classmethod
    def take(cls, paths: _Paths, request: SnapshotRequest) -> _Fingerprint:
        file = paths.store.state / "fastcheck.json"
        context = fastcheck.context_key(paths.source_b, paths.store.dest, _rules_key(request))
        state = fastcheck.load_state(file)
        prune = state.prune if state is not None and state.context == context else ()
        prune = prune or fastcheck.prune_list([])
        return cls(file, context, prune, state, fastcheck.fingerprint(paths.source_b, prune))

    def unchanged_since(self, latest: str | None) -> bool:
        state = self.state
        return (
            latest is not None
            and self.before_walk is not None
            and state is not None
            and state.context == self.context
            and state.snapshot == latest
            and state.fingerprint == self.before_walk
        )

    def remember(self, snapshot: str | None, walk: WalkResult, paths: _Paths, usable: bool) -> None:
        """Record the state; an incomplete run records no fingerprint, so that the next run
        looks again (and says again what it could not read)."""
        prune = fastcheck.prune_list(walk.excluded_dirs)
        usable = usable and prune == self.prune
        fastcheck.save_state(
            self.file,
            fastcheck.FastCheckState(
                self.context, prune, self.before_walk if usable else None, snapshot
            ),
        )


def _take_locked(
    request: SnapshotRequest,
    paths: _Paths,
    reporter: Reporter,
    clock: Callable[[], datetime],
    cancelled: Callable[[], bool] | None,
) -> SnapshotOutcome:
    store = paths.store
    _clean_up(store, reporter)
    _check_source(store, paths.source, reporter)
    started = clock()
    latest = store.latest()
    fingerprint = _Fingerprint.take(paths, request)
    if not (request.force or request.absent) and fingerprint.unchanged_since(latest):
        return SnapshotOutcome("unchanged", latest, latest)
    with fs.opened(fs.open_real(paths.source_b)) as source_fd:
        walk = _walk(source_fd, paths, request)
        previous, previous_rules = _previous(store, latest)
        prev_fd = fs.open_root(store.path_of(latest)) if latest is not None else None
        try:
            run = _Run(request, paths, latest, walk, previous, started, Changes(), [])
            run.previous_rules = previous_rules
            _compare_run(run, source_fd, prev_fd)
            for text in run.warnings:
                reporter.warning(text)
            if latest is not None and not run.changes.any and not walk.absent_ignored:
                if run.settled:
                    _refresh_manifest(store, latest, refreshed(previous, walk.tree, run.settled))
                fingerprint.remember(latest, walk, paths, run.complete)
                return _unchanged(run, incomplete=not run.complete)
            refusal = _refusal(run) or _no_room(run, source_fd)
            if refusal is not None:
                return _refused(run, *refusal)
            run.name, future = name_for(started, store.snapshot_names())
            result = _build(run, source_fd, prev_fd, reporter, cancelled)
        finally:
            if prev_fd is not None:
                os.close(prev_fd)
    final = compare(previous, walk.tree)
    if latest is not None and not final.any and not walk.absent_ignored:
        store.discard_partials()  # only unreadable files "changed": nothing new to keep
        fingerprint.remember(latest, walk, paths, False)
        outcome = _unchanged(run, incomplete=True, build=result)
        for text in outcome.warnings[len(run.warnings) :]:
            reporter.warning(text)
        return outcome
    try:
        outcome = _finish(run, result, final, future)
    except BaseException:  # no room for the manifest, say: what was built goes too
        with contextlib.suppress(OSError):
            store.discard_partials()
        raise
    for text in outcome.warnings[len(run.warnings) :]:
        reporter.warning(text)
    fingerprint.remember(run.name, walk, paths, not outcome.incomplete)
    return outcome


def _compare_run(run: _Run, source_fd: int, prev_fd: int | None) -> None:
    """The walk set against the latest snapshot: content settles what metadata cannot."""
    walk, previous = run.walk, run.previous
    _carry_unreadable_folders(walk, previous)
    run.settled = settle_by_content(walk.tree, previous, source_fd, prev_fd)
    run.changes = compare(previous, walk.tree)
    run.warnings = _walk_warnings(walk) + _clock_warning(run.store, run.started)
    run.newly_excluded = _newly_excluded(run)
    if run.newly_excluded:
        run.warnings.append(_rules_change_warning(run, run.newly_excluded))
    added = _added_patterns(run)
    if added:
        shown = ", ".join(added[:SHOWN]) + (
            f" and {len(added) - SHOWN} more" if len(added) > SHOWN else ""
        )
        run.warnings.append(
            f"the ignore rules changed since snapshot {run.latest}; they now also leave out "
            f"what matches {shown}: such paths, now or created later, are in no snapshot "
            "(`agsekit backup-diff` lists them)"
        )


def _refused(run: _Run, reason: str, message: str) -> SnapshotOutcome:
    run.store.log(f"refused: {message}")
    return SnapshotOutcome(
        "refused",
        run.latest,
        run.latest,
        warnings=tuple(run.warnings),
        refused=reason,
        message=message,
        newly_excluded=tuple(run.newly_excluded),
        previous_tree=run.previous,
    )


def _rules_key(request: SnapshotRequest) -> tuple[str, ...]:
    source = request.rule_source()
    return (
        f"tree={source.read_tree}",
        *(f"{label}\0{pattern}" for label, patterns in source.host for pattern in patterns),
    )


def _clean_up(store: Store, reporter: Reporter) -> None:
    for name in store.discard_partials():
        reporter.info(
            f"removed the unfinished snapshot {name}{PARTIAL_SUFFIX} of an interrupted run"
        )
        store.log(f"removed unfinished {name}{PARTIAL_SUFFIX}")
    store.sweep_temporary()
    for problem in store.empty_trash():
        reporter.warning(problem)


def _check_source(store: Store, source: Path, reporter: Reporter) -> None:
    """One store, one source. A store whose recorded source still exists refuses another
    one; when the recorded source is gone (the project moved), the new one takes over."""
    recorded = check_recorded_source(store, source)
    if recorded is None:
        return
    reporter.warning(
        f"{store.dest} recorded {show_path(str(recorded))}, which no longer exists; it now "
        f"backs up {show_path(str(source))}"
    )
    store.record_source(source, replace=True)
    store.log(f"re-pointed from {recorded} to {source} (the recorded source is gone)")


def check_recorded_source(store: Store, source: Path) -> Path | None:
    """UsageError when the store records another folder than source (a real path) that
    still exists; the recorded folder when it is gone; None when it is source (or nothing
    is recorded).

    The record is a real path and is compared as it is, never resolved again: a recorded
    folder replaced by a symlink (a mount inside another mount's source, whose folder the
    agent working in the outer one swapped for a link to /etc) is not where the link
    leads, and nothing is read from or written there."""
    recorded = store.recorded_source()
    real = str(source)
    if recorded is None or str(recorded) == real:
        return None
    if os.path.isdir(recorded) or os.path.islink(recorded):
        raise UsageError(
            f"{store.dest} holds the snapshots of {show_path(str(recorded))}, not of "
            f"{show_path(real)}",
            hint="use another --dest-dir for this folder; if the project really moved, "
            "re-point the store with: "
            + shell_join(
                ["agsekit", "backup-repoint", "--dest-dir", str(store.dest), "--source-dir", real]
            ),
        )
    return recorded


def _walk(source_fd: int, paths: _Paths, request: SnapshotRequest) -> WalkResult:
    return walk_tree(source_fd, request.rule_source(), force=request.force, absent=request.absent)


def _previous(store: Store, latest: str | None) -> tuple[Tree, Rules | None]:
    """The latest snapshot's tree, and the rules it recorded (None when unknown)."""
    if latest is None:
        return {}, None
    found = manifest.load_manifest(store.state, latest)
    if found is not None:
        return found.tree, found.rules
    try:
        return walk_snapshot(os.fsencode(store.path_of(latest))), None
    except OSError as exc:
        raise SnapshotError(
            describe_os_error(f"cannot read the latest snapshot {latest}", exc)
        ) from None


def _carry_unreadable_folders(walk: WalkResult, previous: Tree) -> None:
    """A folder that could not be listed keeps what the previous snapshot held in it:
    unreadable is not deleted."""
    if not walk.unreadable_dirs:
        return
    prefixes = tuple(p + b"/" for p in walk.unreadable_dirs if p)
    whole = b"" in walk.unreadable_dirs
    for path, meta in previous.items():
        if path and (whole or path.startswith(prefixes)) and path not in walk.tree:
            walk.tree[path] = meta._replace(dev=0)


def _walk_warnings(walk: WalkResult) -> list[str]:
    warnings = list(walk.ignore_problems[:SHOWN])
    if len(walk.ignore_problems) > SHOWN:
        warnings.append(
            f"... and {len(walk.ignore_problems) - SHOWN} more ignore files not applied"
        )
    if walk.specials:
        shown = ", ".join(f"{show_path(p)} ({kind})" for p, kind in walk.specials[:5])
        more = f" and {len(walk.specials) - 5} more" if len(walk.specials) > 5 else ""
        warnings.append(
            f"skipped {len(walk.specials)} socket(s), FIFO(s) or device(s): {shown}{more}"
        )
    warnings += [
        f"could not read {show_path(p)}: {reason}" for p, reason in walk.unreadable[:SHOWN]
    ]
    if len(walk.unreadable) > SHOWN:
        warnings.append(f"... and {len(walk.unreadable) - SHOWN} more unreadable entries")
    if walk.unreadable_dirs:
        warnings.append("what the unreadable folders held is kept as the previous snapshot had it")
    if walk.too_deep:
        warnings.append(
            f"left out {len(walk.too_deep)} folder(s) nested deeper than the limit, e.g. "
            f"{show_path(walk.too_deep[0])[:200]}..."
        )
    if walk.changed:
        warnings.append(
            f"{len(walk.changed)} entries changed while they were read (e.g. "
            f"{show_path(walk.changed[0])}); the next snapshot takes them"
        )
    return warnings


def _clock_warning(store: Store, now: datetime) -> list[str]:
    names = store.snapshot_names()
    if names and parse_name(max(names)) > now + FUTURE_TOLERANCE:
        return [
            f"the snapshot {max(names)} is dated in the future (a clock was ahead when it "
            "was taken); new snapshots are named by the real time and ordered by when they "
            "were taken"
        ]
    return []


def _newly_excluded(run: _Run) -> list[bytes]:
    """Files the previous snapshot holds that the live folder still has, but that the
    rules now leave out (an ignore file or an exclude pattern changed)."""
    if run.latest is None:
        return []
    gone = [p for p in run.changes.deleted if run.previous[p].kind == FILE]
    if not gone:
        return []
    tops = set(run.walk.excluded)
    dirs = tuple(p + b"/" for p in run.walk.excluded_dirs)
    return [p for p in gone if p in tops or p.startswith(dirs)]


def _added_patterns(run: _Run) -> list[str]:
    """Exclusion patterns in force now that the latest snapshot's rules did not hold, as
    shown to people: `PATTERN (where)`. A rule written before the files it hides exist
    (`*.draft`, `new_feature/`) leaves out nothing yet, but every such file later."""
    before = run.previous_rules
    if run.latest is None or before is None:
        return []
    source = run.request.rule_source()
    old_host = {pattern for _label, patterns in before.host for pattern in patterns}
    added = [
        f"{show_path(pattern)} ({label})"
        for label, patterns in source.host
        for pattern in patterns
        if pattern not in old_host and not pattern.startswith("!")
    ]
    for prefix, content in run.walk.ignore_files.items():
        old = before.files.get(prefix, b"") if before.read_tree else b""
        known = {rule.text for rule in ignore_file_rules(old, "")}
        where = show_path(prefix + b".backupignore")
        added += [
            f"{show_path(rule.text)} ({where})"
            for rule in ignore_file_rules(content, "")
            if rule.text not in known and not rule.text.startswith(b"!")
        ]
    return added


def _rules_change_warning(run: _Run, paths: list[bytes]) -> str:
    shown = ", ".join(show_path(p) for p in paths[:SHOWN])
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return (
        f"the ignore rules now leave out {len(paths)} file(s) that snapshot {run.latest} "
        f"holds and the folder still has: {shown}{more}; they are no longer backed up "
        "(see the .backupignore files and exclude patterns)"
    )


def _holds_no_files(tree: Tree) -> bool:
    return all(meta.kind == DIR for meta in tree.values())


def _refusal(run: _Run) -> tuple[str, str] | None:
    """Never record a source that looks wiped, unmounted or wholly ignored as the latest
    state when the latest snapshot holds files."""
    if run.latest is None or not _holds_no_files(run.walk.tree) or _holds_no_files(run.previous):
        return None
    source = show_path(str(run.paths.source))
    last = f"the last good snapshot is {run.store.path_of(run.latest)}"
    if run.walk.excluded:
        return (
            "excluded",
            f"every file in {source} is left out by the ignore rules ({_explained(run)}): "
            f"not taking a snapshot; {last}",
        )
    return (
        "empty",
        f"the source {source} is empty, but the latest snapshot {run.latest} is not: not "
        f"taking a snapshot (is a disk unmounted, or was the project wiped?); {last}",
    )


def _explained(run: _Run) -> str:
    """Which rules leave out which entries, for the first few of them."""
    parts = []
    for path, rule in run.walk.explained:
        why = rule.describe() if rule is not None else "a rule"
        parts.append(f"{why} leaves out {show_path(path)}")
    more = len(run.walk.excluded) - len(run.walk.explained)
    return "; ".join(parts) + (f"; and {more} more left out" if more > 0 else "")


def _no_room(run: _Run, source_fd: int) -> tuple[str, str] | None:
    tree = run.walk.tree
    to_copy = [p for p in run.changes.added + run.changes.modified if tree[p].kind == FILE]
    cost = space.estimate(tree, to_copy, source_fd)
    room = space.usage(run.store.dest)
    reason = space.refusal(cost, room, run.request.reserve, run.store.dest)
    return ("space", reason) if reason is not None else None


def _unchanged(run: _Run, *, incomplete: bool, build: BuildResult | None = None) -> SnapshotOutcome:
    warnings = list(run.warnings)
    if build is not None:
        warnings += _build_warnings(run, build)
    if incomplete and not any("could not" in w for w in warnings):
        warnings.append("some files could not be read, as at the last snapshot")
    return SnapshotOutcome(
        "unchanged", run.latest, run.latest, incomplete=incomplete, warnings=tuple(warnings)
    )


def _build(
    run: _Run,
    source_fd: int,
    prev_fd: int | None,
    reporter: Reporter,
    cancelled: Callable[[], bool] | None,
) -> BuildResult:
    store = run.store
    partial = store.path_of(run.name + PARTIAL_SUFFIX)
    os.mkdir(partial, 0o700)
    previous = Previous(prev_fd, run.previous) if prev_fd is not None else None
    to_copy = [p for p in run.changes.added + run.changes.modified if run.walk.tree[p].kind == FILE]
    totals = (len(to_copy), sum(run.walk.tree[p].size for p in to_copy))
    try:
        with fs.opened(fs.open_root(partial)) as partial_fd:
            return build_snapshot(
                source_fd=source_fd,
                partial_fd=partial_fd,
                tree=run.walk.tree,
                previous=previous,
                multi_linked=run.walk.multi_linked,
                to_copy_total=totals,
                on_progress=reporter.progress,
                cancelled=cancelled,
            )
    except BaseException:
        store.discard_partials()
        raise
    finally:
        reporter.progress_done()


def _build_warnings(run: _Run, result: BuildResult) -> list[str]:
    warnings = []
    if result.vanished:
        warnings.append(
            f"{len(result.vanished)} file(s) vanished while the snapshot was taken; the "
            "snapshot is complete without them"
        )
    if result.changed:
        shown = ", ".join(show_path(p) for p in result.changed[:SHOWN])
        warnings.append(
            f"{len(result.changed)} file(s) changed or were replaced while they were copied "
            f"({shown}); the next snapshot takes them again"
        )
    if result.unreadable:
        lines = [f"{show_path(p)}: {reason}" for p, reason in result.unreadable[:SHOWN]]
        more = (
            f"; and {len(result.unreadable) - SHOWN} more" if len(result.unreadable) > SHOWN else ""
        )
        kept = (
            f" ({len(result.carried)} kept as the previous snapshot had them)"
            if result.carried
            else ""
        )
        warnings.append(
            f"{len(result.unreadable)} file(s) could not be copied{kept}: "
            + "; ".join(lines)
            + more
        )
    if result.damaged:
        shown = ", ".join(show_path(p) for p in result.damaged[:SHOWN])
        warnings.append(
            f"{len(result.damaged)} file(s) in snapshot {run.latest} no longer match what was "
            f"recorded (damaged, or edited inside the store): {shown}; copied again from the "
            "source instead of linked (run `agsekit backup-check`)"
        )
    if result.hardlinks_unsupported:
        warnings.append(
            f"the filesystem of {run.store.dest} does not support hard links: every "
            "snapshot there is a full copy"
        )
    return warnings


def _finish(
    run: _Run, result: BuildResult, changes: Changes, future: str | None
) -> SnapshotOutcome:
    store = run.store
    tree = run.walk.tree
    added, modified, deleted = changes.file_counts(run.previous, tree)
    incomplete = bool(result.unreadable or run.walk.unreadable or run.walk.unreadable_dirs)
    warnings = [*run.warnings, *_build_warnings(run, result)]
    note = space.cost_note(result.inodes, result.folders, added + modified + deleted)
    if note is not None:
        warnings.append(note)
    outcome = SnapshotOutcome(
        "created",
        run.name,
        run.latest,
        added=added,
        modified=modified,
        deleted=deleted,
        total_files=sum(1 for m in tree.values() if m.kind != DIR),
        total_bytes=sum(m.size for m in tree.values()),
        copied_files=result.copied,
        copied_bytes=result.copied_bytes,
        linked_files=result.linked,
        incomplete=incomplete,
        warnings=tuple(warnings),
        deleted_paths=tuple(p for p in changes.deleted if run.previous[p].kind != DIR),
        newly_excluded=tuple(run.newly_excluded),
        forced_in=tuple(run.walk.forced_in),
        tree=tree,
        previous_tree=run.previous if run.latest is not None else None,
    )
    source = run.request.rule_source()
    rules = Rules(source.host, source.read_tree, dict(run.walk.ignore_files))
    absent = frozenset(run.walk.absent_ignored)
    manifest.save(store.state, run.name, Manifest(dict(tree), rules, absent))
    write_atomic(
        store.state / "manifests" / f"{run.name}.json",
        json.dumps(_stats(run, outcome, result)) + "\n",
    )
    partial = store.path_of(run.name + PARTIAL_SUFFIX)
    _flush_to_disk(partial)
    os.rename(partial, store.path_of(run.name))
    _fsync_dir(store.dest)
    store.record_source(run.paths.source)
    store.log(
        f"snapshot {run.name}: +{added} ~{modified} -{deleted} files, "
        f"{result.written_bytes} new bytes" + (" (incomplete)" if incomplete else "")
    )
    if future is not None:
        store.log(f"snapshot {future} is dated in the future; {run.name} named by real time")
    return outcome


def _next_seq(store: Store) -> int:
    seqs = [store.read_stats(n).get("seq") for n in store.snapshot_names()]
    known = [s for s in seqs if isinstance(s, int) and not isinstance(s, bool)]
    return max(known, default=0) + 1


def _stats(run: _Run, outcome: SnapshotOutcome, result: BuildResult) -> dict[str, object]:
    """What history commands read about a snapshot without opening its manifest."""
    return {
        "name": run.name,
        "seq": _next_seq(run.store),
        "source": str(run.paths.source),
        "started": run.started.isoformat(),
        "finished": utc_now().isoformat(),
        "files": outcome.total_files,
        "bytes": outcome.total_bytes,
        "added": outcome.added,
        "modified": outcome.modified,
        "deleted": outcome.deleted,
        "new_bytes": result.written_bytes,
        "linked": outcome.linked_files,
        "copied": outcome.copied_files,
        "inodes": result.inodes,
        "incomplete": outcome.incomplete,
        "label": run.request.label,
        "excludes": list(run.request.excludes),
        "config_excludes": list(run.request.config_excludes),
        "ignore_files": run.request.ignore_files,
    }


def _refresh_manifest(store: Store, name: str, tree: Tree) -> None:
    """Record the live identity of files found equal by content (no snapshot needed)."""
    found = manifest.load_manifest(store.state, name)
    if found is None:
        return
    manifest.save(store.state, name, Manifest(tree, found.rules, found.absent))


def _flush_to_disk(path: Path) -> None:
    """Make the new snapshot's data durable before it is renamed into place, so a power
    loss cannot leave a complete-looking snapshot with empty files."""
    libc_name = ctypes.util.find_library("c")
    syncfs = getattr(ctypes.CDLL(libc_name), "syncfs", None) if libc_name else None
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        syncfs(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["SnapshotError", "SnapshotOutcome", "SnapshotRequest", "check_paths", "take_snapshot"]
