"""SIGKILL of the real CLI's whole process group at random moments (issue "Nothing lost",
section 3): backup-once, an in-place restore, backup-clean. After every kill no complete
snapshot changed, no process of the run is left, the next command succeeds and leaves no
`-partial` folder, temporary file or trash behind.

The kill moments are seeded: the seed is printed, and AGSEKIT_FAULT_SEED=N replays a
failing run (AGSEKIT_FAULT_ROUNDS=N changes the number of rounds)."""

from __future__ import annotations

import os
import random
import shlex
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine.manifest import manifest_path
from agsekit.snapshots.engine.names import format_name
from agsekit.snapshots.engine.snapshot import SnapshotRequest, take_snapshot
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.marks import forget_marks, set_mark
from agsekit.snapshots.restore.plan import is_restore_temporary
from tests.faults.harness import (
    Describer,
    Faults,
    Outcome,
    agsekit_argv,
    assert_no_process_mentions,
    changed_snapshots,
    incomplete_snapshots,
    kill_after,
    leftovers,
    timed_run,
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No user config: the defaults apply (retention and alarm included)."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "CONFIG_PATH": ""}


def make_tree(root: Path, data: Bytes, *, small: int, big: int, big_size: int) -> None:
    """Nested folders holding `small` files of a few KiB and `big` files of about
    big_size bytes, each with its own bytes, a symlink and an empty folder. (Few big files:
    on a disk mounted with `discard`, freeing a file's blocks costs milliseconds.)"""
    for index in range(small):
        write_bytes(root / f"d{index % 24:02}" / f"sub{index % 5}" / f"f{index:05}.txt", data, 4096)
    for index in range(big):
        write_bytes(root / f"big{index % 3}" / f"b{index:03}.bin", data, big_size)
    (root / "empty folder").mkdir()
    os.symlink("d00/sub0/f00000.txt", root / "link to the first file")


class Bytes:
    """Cheap bytes that differ from file to file: a slice of one random block, at a
    seeded offset, behind a seeded header."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.block = os.urandom(BLOCK)

    def take(self, size: int) -> bytes:
        parts = [self.rng.randbytes(16)]
        left = max(0, size - 16)
        while left > 0:
            start = self.rng.randrange(BLOCK)
            parts.append(self.block[start : start + left])
            left -= len(parts[-1])
        return b"".join(parts)


BLOCK = 8 << 20


def write_bytes(path: Path, data: Bytes, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.take(size // 2 + data.rng.randrange(size)))


def rewrite(root: Path, data: Bytes, pattern: str, every: int = 1) -> list[Path]:
    """New bytes in every `every`-th file matching pattern."""
    chosen = [p for i, p in enumerate(sorted(root.rglob(pattern))) if i % every == 0]
    for path in chosen:
        path.write_bytes(data.take(path.stat().st_size))
    return chosen


def remove_new_snapshots(dest: Path, keep: set[str]) -> None:
    """Bring the store back to the snapshots in `keep` for the next round (the engine's
    own removal, under the store's lock)."""
    store = Store(dest)
    with store.locked():
        extra = set(store.snapshot_names()) - keep
        for name in sorted(extra):
            store.remove_snapshot(name)
        forget_marks(store, extra)


def check_after_next(dest: Path, where: str) -> None:
    assert leftovers(dest) == [], f"{where}: left behind after the next command"
    assert incomplete_snapshots(dest) == [], where


# ----- (a) backup-once ---------------------------------------------------------------------


def test_sigkill_backup_once_at_random_moments(tmp_path: Path, env: dict[str, str]) -> None:
    faults = Faults.start("backup-once")
    src, dest = tmp_path / "src", tmp_path / "dest"
    data = Bytes(faults.rng)
    make_tree(src, data, small=1000, big=4, big_size=32 << 20)
    argv = agsekit_argv("backup-once", "--source-dir", src, "--dest-dir", dest)
    first = timed_run(argv, env)
    assert first.returncode == 0, first.stderr
    # each round copies the big files and some small ones, and links the rest
    rewrite(src, data, "*.bin")
    rewrite(src, data, "*.txt", every=40)
    describer = Describer()
    expected = describer.content(src)
    base = set(Store(dest).snapshot_names())
    measured = timed_run(argv, env)  # the command's duration; its snapshot is then removed
    assert measured.returncode == 0, measured.stderr
    faults.measure(measured.seconds)
    remove_new_snapshots(dest, base)
    for index in range(faults.rounds):
        before = describer.snapshots(dest)
        delay = faults.delay()
        where = faults.where(index, delay)
        killed = kill_after(argv, delay, env)
        assert_no_process_mentions(f"{tmp_path}/")
        after = describer.snapshots(dest)
        assert changed_snapshots(before, after) == [], where
        new = sorted(set(after) - set(before))
        assert len(new) <= 1, where
        for name in new:  # the killed run got as far as the rename: it is complete
            assert describer.content(dest / name) == expected, where
        faults.note(_snapshot_phase(killed, dest, new))
        again = timed_run(argv, env)
        assert again.returncode == 0, f"{where}: the next run failed: {again.stderr}"
        assert "Traceback" not in again.stderr, where
        assert changed_snapshots(after, describer.snapshots(dest)) == [], where
        latest = Store(dest).latest()
        assert latest is not None and describer.content(dest / latest) == expected, where
        check_after_next(dest, where)
        remove_new_snapshots(dest, base)
    print(faults.summary())


def _snapshot_phase(killed: Outcome, dest: Path, new: list[str]) -> str:
    if not killed.killed:
        return "after it ended"
    if new:
        return "after the rename"
    store = Store(dest)
    partials = store.partial_names()
    if not partials:
        return "before the copy"
    if manifest_path(store.state, partials[0].removesuffix("-partial")).exists():
        return "after the copy, before the rename"
    return "during the copy"


# ----- (b) an in-place restore ---------------------------------------------------------------


def test_sigkill_in_place_restore_at_random_moments(tmp_path: Path, env: dict[str, str]) -> None:
    faults = Faults.start("backup-restore --in-place --delete")
    live, dest = tmp_path / "project", tmp_path / "dest"
    data = Bytes(faults.rng)
    make_tree(live, data, small=1500, big=6, big_size=16 << 20)
    taken = timed_run(agsekit_argv("backup-once", "--source-dir", live, "--dest-dir", dest), env)
    assert taken.returncode == 0, taken.stderr
    target = Store(dest).latest()
    assert target is not None
    _drift(live, data)
    describer = Describer()
    before, want = describer.content(live), describer.content(dest / target)
    argv = agsekit_argv(
        "backup-restore", "--dest-dir", dest, "--snapshot", target, "--in-place", "--delete"
    )
    measured = timed_run(argv, env)  # the command's duration; then undone with its own undo
    assert measured.returncode == 0, measured.stderr
    faults.measure(measured.seconds)
    assert describer.content(live) == want
    undone = timed_run(_undo_argv(measured), env)
    assert undone.returncode == 0, undone.stderr
    assert describer.content(live) == before
    remove_new_snapshots(dest, {target})
    for index in range(faults.rounds):
        snapshots = describer.snapshots(dest)
        delay = faults.delay()
        where = faults.where(index, delay)
        killed = kill_after(argv, delay, env)
        assert_no_process_mentions(f"{tmp_path}/")
        after = describer.snapshots(dest)
        assert changed_snapshots(snapshots, after) == [], where
        now = describer.content(live)
        assert not_partly_restored(before, want, now) == [], where
        undo = _undo_argv(killed) if "To undo this restore:" in killed.stdout else None
        faults.note(_restore_phase(killed, dest, undo, now, (before, want)))
        if undo is not None and faults.rng.random() < 0.5:
            # the undo printed before the kill brings back the state before the restore
            again = timed_run(undo, env)
            assert again.returncode == 0, f"{where}: the undo failed: {again.stderr}"
            assert describer.content(live) == before, f"{where}: the undo is not exact"
        else:
            # the restore run again completes it; then an undo brings the project back for
            # the next round (the killed run's, else this run's: both saved the state before)
            again = timed_run(argv, env)
            assert again.returncode == 0, f"{where}: the restore again failed: {again.stderr}"
            assert describer.content(live) == want, f"{where}: the restore is not complete"
            back = timed_run(undo or _undo_argv(again), env)
            assert back.returncode == 0, f"{where}: the undo failed: {back.stderr}"
            assert describer.content(live) == before, f"{where}: the undo is not exact"
        assert "Traceback" not in again.stderr, where
        assert changed_snapshots(after, describer.snapshots(dest)) == [], where
        check_after_next(dest, where)
        remove_new_snapshots(dest, {target})
    print(faults.summary())


def _drift(live: Path, data: Bytes) -> None:
    """What happened to the project since the snapshot: files deleted, rewritten, added,
    a mode changed, a folder gone, a file turned into a folder."""
    bins, texts = sorted(live.rglob("*.bin")), sorted(live.rglob("*.txt"))
    for path in bins[:5] + texts[::20]:
        path.unlink()
    for path in texts[1::40]:
        path.write_bytes(data.take(path.stat().st_size))
    for index in range(20):
        write_bytes(live / "new" / f"n{index}.txt", data, 4096)
    write_bytes(live / "new" / "large.bin", data, 1 << 20)
    texts[2].chmod(0o600)
    shutil.rmtree(live / "d05")
    texts[3].unlink()
    write_bytes(texts[3] / "inside.txt", data, 4096)


def _undo_argv(outcome: Outcome) -> list[str]:
    lines = outcome.stdout.splitlines()
    command = lines[lines.index("To undo this restore:") + 1]
    words = shlex.split(command)
    assert words[0] == "agsekit" and "--snapshot" in words, command
    return agsekit_argv(*words[1:])


Content = dict[bytes, tuple[str, int, int, int]]


def not_partly_restored(before: Content, want: Content, now: Content) -> list[str]:
    """Paths that are neither as before the restore nor as restored. A folder counts by
    its kind only (the restore gives new folders their mode at the end); a path whose kind
    the restore changes may be absent (the old entry is removed before the new one is
    written: the safety snapshot holds it). The temporary file of a copy the kill cut
    short is left too: the next restore removes it (checked by the caller)."""
    problems = []
    for path in sorted(set(before) | set(want) | set(now)):
        if is_restore_temporary(path) and path not in before:
            continue
        state, old, new = now.get(path), before.get(path), want.get(path)
        if state in (old, new):
            continue
        kinds = {entry[0] for entry in (old, new) if entry is not None}
        if state is not None and state[0] == "d" and "d" in kinds:
            continue
        if state is None and len(kinds) == 2:
            continue
        problems.append(f"{os.fsdecode(path)}: {state}, before {old}, restored {new}")
    return problems[:10]


def _restore_phase(
    killed: Outcome, dest: Path, undo: list[str] | None, now: Content, ends: tuple[Content, Content]
) -> str:
    before, want = ends
    if not killed.killed:
        return "after it ended"
    if Store(dest).partial_names():
        return "during the safety snapshot"
    if undo is None:
        return "before the undo was printed"
    if now == before:
        return "after the safety snapshot, before any change"
    if now == want:
        return "after the last change"
    return "during the apply"


# ----- (c) backup-clean ------------------------------------------------------------------


RETENTION = (
    "retention:\n  keep_within: 0m\n  keep_hourly: 0\n  keep_daily: 0\n"
    "  keep_weekly: 0\n  keep_monthly: 0\n"
)


def test_sigkill_backup_clean_at_random_moments(tmp_path: Path, env: dict[str, str]) -> None:
    faults = Faults.start("backup-clean")
    project, dest = tmp_path / "project", tmp_path / "dest"
    data = Bytes(faults.rng)
    make_tree(project, data, small=400, big=0, big_size=0)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    real = []
    for day in range(4):
        rewrite(project, data, "*.txt", every=5 + day)
        outcome = take_snapshot(
            SnapshotRequest(project, dest),
            RecordingReporter(),
            clock=_fixed(start + timedelta(days=day)),
        )
        assert outcome.name is not None
        real.append(outcome.name)
    store = Store(dest)
    with store.locked():
        set_mark(store, real[0], pinned=True, label="kept: pinned")
        set_mark(store, real[1], pinned=False, label="a label that goes with its snapshot")
    keep = {real[0], real[-1]}
    config = tmp_path / "config.yaml"
    config.write_text(RETENTION)
    argv = agsekit_argv("backup-clean", "--dest-dir", dest, "--config", config)
    describer = Describer()
    first = timed_run(argv, env)  # removes the real snapshots that are not kept
    assert first.returncode == 0, first.stderr
    assert set(store.snapshot_names()) == keep
    _clone_snapshots(dest, sorted(keep), faults.rng, 0)
    measured = timed_run(argv, env)  # the command's duration, on a round's work
    assert measured.returncode == 0, measured.stderr
    faults.measure(measured.seconds)
    assert set(store.snapshot_names()) == keep
    for index in range(faults.rounds):
        clones = _clone_snapshots(dest, sorted(keep), faults.rng, index + 1)
        snapshots = describer.snapshots(dest)
        if index == 0:  # the copies are snapshots as complete as their originals
            assert incomplete_snapshots(dest) == []
        delay = faults.delay()
        where = faults.where(index, delay)
        killed = kill_after(argv, delay, env)
        assert_no_process_mentions(f"{tmp_path}/")
        assert incomplete_snapshots(dest) == [], f"{where}: a snapshot is half removed"
        after = describer.snapshots(dest)
        assert keep <= set(after), where
        assert changed_snapshots(snapshots, after, may_vanish=True) == [], where
        faults.note(_clean_phase(killed, clones, set(after)))
        again = timed_run(argv, env)
        assert again.returncode == 0, f"{where}: backup-clean again failed: {again.stderr}"
        assert "Traceback" not in again.stderr, where
        assert set(Store(dest).snapshot_names()) == keep, where
        assert changed_snapshots({n: after[n] for n in keep}, describer.snapshots(dest)) == [], (
            where
        )
        check_after_next(dest, where)
    print(faults.summary())


CLONES = 20


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _clone_snapshots(dest: Path, sources: list[str], rng: random.Random, batch: int) -> list[str]:
    """More snapshots to remove, cheaply: hard-linked copies of complete ones (cp -al keeps
    modes, times and inodes, so each copy's tree is exactly its original's manifest), some
    of them labelled, dated long before the real ones."""
    store = Store(dest)
    names = []
    start = datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(hours=batch * CLONES)
    for index in range(CLONES):
        name = format_name(start + timedelta(hours=index))
        origin = rng.choice(sources)
        subprocess.run(["cp", "-a", "-l", str(dest / origin), str(dest / name)], check=True)
        shutil.copyfile(manifest_path(store.state, origin), manifest_path(store.state, name))
        names.append(name)
    with store.locked():
        for name in rng.sample(names, 3):
            set_mark(store, name, pinned=False, label=f"label of {name}")
    return names


def _clean_phase(killed: Outcome, clones: list[str], left: set[str]) -> str:
    if not killed.killed:
        return "after it ended"
    gone = sum(1 for name in clones if name not in left)
    if gone == 0:
        return "before the first removal"
    if gone == len(clones):
        return "after the last removal"
    return "between removals"
