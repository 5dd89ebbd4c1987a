"""Take one snapshot: the engine's only write path into a store.

Sequence, all under the store's lock:
  1. clear what an interrupted run left (`-partial` folders, the trash);
  2. fast no-change check (fingerprint), else walk the source and compare it with the
     latest snapshot's manifest; no change -> no snapshot;
  3. refuse to record a source that looks wiped or unmounted;
  4. build `<name>-partial` (links for unchanged files, rsync for the rest), write its
     manifest, flush it to disk, and only then rename it to `<name>`.
A crash at any point leaves at most a `-partial` folder, which step 1 removes next time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from agsekit.core.errors import NothingToSnapshotError, SnapshotError, UsageError
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine import fastcheck, manifest
from agsekit.snapshots.engine.build import BuildResult, build_snapshot
from agsekit.snapshots.engine.compare import compare
from agsekit.snapshots.engine.names import PARTIAL_SUFFIX, next_name
from agsekit.snapshots.engine.store import Store, write_atomic
from agsekit.snapshots.engine.tree import DIR, Tree
from agsekit.snapshots.engine.walk import WalkResult, walk_snapshot, walk_source
from agsekit.tools import rsync

Status = Literal["created", "unchanged"]


@dataclass(frozen=True)
class SnapshotRequest:
    source: Path
    dest: Path
    excludes: tuple[str, ...] = ()
    label: str | None = None


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


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class _Paths:
    source: Path
    source_b: bytes
    store: Store
    store_inside: bytes | None  # the store's path relative to source, when inside it


def check_paths(source: Path, dest: Path) -> _Paths:
    """Refuse impossible source/store combinations before anything is created."""
    src = Path(os.path.abspath(source))
    if not src.exists():
        raise UsageError(f"source folder {src} does not exist")
    if not src.is_dir():
        raise UsageError(f"source {src} is not a folder")
    real_src = os.path.realpath(src)
    real_dest = os.path.realpath(dest)
    if real_dest == real_src:
        raise UsageError(f"the snapshot folder cannot be the source itself ({src})")
    if real_src.startswith(real_dest.rstrip("/") + "/"):
        raise UsageError(
            f"the source {src} lies inside the snapshot folder {dest}",
            hint="choose a --dest-dir outside the folder you back up",
        )
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise UsageError(f"snapshot folder {dest} exists and is not a folder")
    inside = None
    if real_dest.startswith(real_src.rstrip("/") + "/"):
        inside = os.fsencode(real_dest[len(real_src.rstrip("/")) + 1 :])
    return _Paths(Path(real_src), os.fsencode(real_src), Store(Path(dest)), inside)


def take_snapshot(
    request: SnapshotRequest,
    reporter: Reporter,
    *,
    clock: Callable[[], datetime] = utc_now,
    refuse_empty: bool = True,
) -> SnapshotOutcome:
    """Take a snapshot of request.source into request.dest if anything changed.

    Raises NothingToSnapshotError when the source is empty but the latest snapshot is not
    (refuse_empty=False turns that into a warning and an "unchanged" outcome)."""
    paths = check_paths(request.source, request.dest)
    store = paths.store
    if paths.store_inside is not None:
        reporter.warning(
            f"the snapshot folder {store.dest} is inside the source; it is left out of the "
            "snapshots, but an agent that can write to the source can reach it"
        )
    with store.locked(
        on_wait=lambda: reporter.info(
            f"waiting for another agsekit process that is writing to {store.dest}..."
        )
    ):
        try:
            return _take_locked(request, paths, reporter, clock=clock, refuse_empty=refuse_empty)
        except OSError as exc:  # a full disk, a permission problem: older snapshots intact
            where = f" ({exc.filename!r})" if exc.filename else ""
            raise SnapshotError(
                f"snapshot of {paths.source} failed: {exc.strerror or exc}{where}"
            ) from exc


def _take_locked(
    request: SnapshotRequest,
    paths: _Paths,
    reporter: Reporter,
    *,
    clock: Callable[[], datetime],
    refuse_empty: bool,
) -> SnapshotOutcome:
    store = paths.store
    for name in store.discard_partials():
        reporter.info(
            f"removed the unfinished snapshot {name}{PARTIAL_SUFFIX} of an interrupted run"
        )
        store.log(f"removed unfinished {name}{PARTIAL_SUFFIX}")
    store.empty_trash()
    started = clock()
    latest = store.latest()
    state_file = store.state / "fastcheck.json"
    context = fastcheck.context_key(paths.source_b, store.dest, request.excludes)
    state = fastcheck.load_state(state_file)
    prune = state.prune if state is not None and state.context == context else ()
    prune = prune or fastcheck.prune_list([], paths.store_inside)
    print_before_walk = fastcheck.fingerprint(paths.source_b, prune)
    if (
        latest is not None
        and print_before_walk is not None
        and state is not None
        and state.context == context
        and state.snapshot == latest
        and state.fingerprint == print_before_walk
    ):
        return SnapshotOutcome("unchanged", latest, latest)

    walk = _walk(paths, request.excludes)
    warnings = _walk_warnings(walk)
    for text in warnings:
        reporter.warning(text)
    previous = _previous_tree(store, latest)
    changes = compare(previous, walk.tree) if latest is not None else None
    new_prune = fastcheck.prune_list(walk.excluded_dirs, paths.store_inside)

    def remember(snapshot: str | None) -> None:
        usable = print_before_walk if new_prune == prune else None
        fastcheck.save_state(
            state_file, fastcheck.FastCheckState(context, new_prune, usable, snapshot)
        )

    if latest is not None and changes is not None and not changes.any:
        remember(latest)
        return SnapshotOutcome("unchanged", latest, latest, warnings=tuple(warnings))
    if latest is not None and _holds_no_files(walk.tree) and not _holds_no_files(previous):
        message = (
            f"the source {paths.source} is empty, but the latest snapshot {latest} is not: "
            "not taking a snapshot (is a disk unmounted, or was the project wiped?); "
            f"the last good snapshot is {store.path_of(latest)}"
        )
        store.log(f"refused: source empty; last good snapshot {latest}")
        if refuse_empty:
            raise NothingToSnapshotError(message)
        reporter.warning(message)
        return SnapshotOutcome("unchanged", latest, latest, warnings=(*warnings, message))

    name = next_name(started, latest)
    run = _Run(request, paths, name, latest, walk, previous, started, warnings)
    outcome = _finish(run, _build(run, reporter))
    for text in outcome.warnings[len(warnings) :]:
        reporter.warning(text)
    remember(name)
    return outcome


def _walk(paths: _Paths, excludes: tuple[str, ...]) -> WalkResult:
    skip: frozenset[tuple[int, int]] = frozenset()
    if paths.store_inside is not None and paths.store.exists():
        st = os.stat(paths.store.dest)
        skip = frozenset({(st.st_dev, st.st_ino)})
    return walk_source(paths.source_b, excludes, skip)


def _walk_warnings(walk: WalkResult) -> list[str]:
    warnings = []
    if walk.specials:
        shown = ", ".join(_show(p) for p in walk.specials[:5])
        more = f" and {len(walk.specials) - 5} more" if len(walk.specials) > 5 else ""
        warnings.append(
            f"skipped {len(walk.specials)} socket(s), FIFO(s) or device(s): {shown}{more}"
        )
    for path, reason in walk.unreadable[:10]:
        warnings.append(f"could not read {_show(path)}: {reason}")
    if len(walk.unreadable) > 10:
        warnings.append(f"... and {len(walk.unreadable) - 10} more unreadable entries")
    return warnings


def _show(path: bytes) -> str:
    return repr(os.fsdecode(path))[1:-1]


def _previous_tree(store: Store, latest: str | None) -> Tree:
    if latest is None:
        return {}
    tree = manifest.load(store.state, latest)
    if tree is None:
        tree = walk_snapshot(os.fsencode(store.path_of(latest)))
    return tree


def _holds_no_files(tree: Tree) -> bool:
    return all(meta.kind == DIR for meta in tree.values())


@dataclass
class _Run:
    """One snapshot being taken: what the later steps need to know."""

    request: SnapshotRequest
    paths: _Paths
    name: str
    latest: str | None
    walk: WalkResult
    previous: Tree
    started: datetime
    warnings: list[str]

    @property
    def partial(self) -> Path:
        return self.paths.store.path_of(self.name + PARTIAL_SUFFIX)


def _build(run: _Run, reporter: Reporter) -> BuildResult:
    store = run.paths.store
    os.mkdir(run.partial, 0o700)
    prev = None
    if run.latest is not None:
        prev = (os.fsencode(store.path_of(run.latest)), run.previous)
    try:
        return build_snapshot(
            source=run.paths.source_b,
            partial=os.fsencode(run.partial),
            tree=run.walk.tree,
            previous=prev,
            scratch_dir=os.fsencode(store.state),
            on_progress=reporter.progress,
        )
    except BaseException:
        store.discard_partials()
        raise
    finally:
        reporter.progress_done()


def _build_warnings(run: _Run, result: BuildResult) -> list[str]:
    warnings = list(run.warnings)
    if result.missing or result.copy_returncode == rsync.VANISHED:
        warnings.append(
            f"{len(result.missing) or 'some'} file(s) vanished while the snapshot was taken; "
            "the snapshot is complete without them"
        )
    if result.unreadable or (result.copy_returncode == rsync.PARTIAL and not result.missing):
        warnings.append(f"some files could not be copied: {rsync.rsync_words(result.copy_stderr)}")
    if result.hardlinks_unsupported:
        warnings.append(
            f"the filesystem of {run.paths.store.dest} does not support hard links: every "
            "snapshot there is a full copy"
        )
    return warnings


def _finish(run: _Run, result: BuildResult) -> SnapshotOutcome:
    store = run.paths.store
    tree = run.walk.tree
    changes = compare(run.previous, tree)
    added, modified, deleted = changes.file_counts(run.previous, tree)
    incomplete = bool(result.unreadable or run.walk.unreadable) or (
        result.copy_returncode == rsync.PARTIAL and not result.missing
    )
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
        warnings=tuple(_build_warnings(run, result)),
        deleted_paths=tuple(p for p in changes.deleted if run.previous[p].kind != DIR),
    )
    manifest.save(store.state, run.name, tree)
    write_atomic(
        store.state / "manifests" / f"{run.name}.json",
        json.dumps(_stats(run, outcome)) + "\n",
    )
    _flush_to_disk(run.partial)
    os.rename(run.partial, store.path_of(run.name))
    _fsync_dir(store.dest)
    store.record_source(run.paths.source)
    store.log(
        f"snapshot {run.name}: +{added} ~{modified} -{deleted} files, "
        f"{result.copied_bytes} new bytes" + (" (incomplete)" if incomplete else "")
    )
    return outcome


def _stats(run: _Run, outcome: SnapshotOutcome) -> dict[str, object]:
    """What history commands read about a snapshot without opening its manifest."""
    return {
        "name": run.name,
        "source": str(run.paths.source),
        "started": run.started.isoformat(),
        "finished": utc_now().isoformat(),
        "files": outcome.total_files,
        "bytes": outcome.total_bytes,
        "added": outcome.added,
        "modified": outcome.modified,
        "deleted": outcome.deleted,
        "new_bytes": outcome.copied_bytes,
        "linked": outcome.linked_files,
        "copied": outcome.copied_files,
        "incomplete": outcome.incomplete,
        "label": run.request.label,
        "excludes": list(run.request.excludes),
    }


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
