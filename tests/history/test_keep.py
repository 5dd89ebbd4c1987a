"""Pins, retention on real stores, interrupted removal and the mass-deletion alarm
(issue 3)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta, timezone
from pathlib import Path

from agsekit.config.model import AlarmPolicy, RetentionPolicy
from agsekit.core.errors import SnapshotError
from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine import manifest
from agsekit.snapshots.engine.loop import LoopJob, run_once
from agsekit.snapshots.engine.snapshot import SnapshotOutcome, SnapshotRequest, take_snapshot
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.engine.walk import walk_snapshot
from agsekit.snapshots.keep.alarm import after_snapshot
from agsekit.snapshots.keep.cleanup import clean_store
from agsekit.snapshots.keep.marks import load_marks, set_mark
from tests.helpers import run_cli, snapshots_in, write
from tests.history.conftest import START, Snap

DAILY_3 = RetentionPolicy(timedelta(0), 0, 3, 0, 0)


def _record(sink: list[tuple[str, str]], title: str, body: str) -> bool:
    sink.append((title, body))
    return True


def ten_days(project: Path, snap: Snap) -> list[str]:
    """Two snapshots a day (09:00 and 15:00 UTC) for ten days."""
    names = []
    for day in range(10):
        for hour in (0, 6):
            write(project / "counter.txt", f"{day} {hour}\n")
            outcome = snap(at=START + timedelta(days=day, hours=hour))
            assert outcome.name is not None
            names.append(outcome.name)
    return names


def test_retention_keeps_pins_and_newest_and_is_idempotent(
    project: Path, dest: Path, snap: Snap
) -> None:
    names = ten_days(project, snap)
    store = Store(dest)
    with store.locked():
        set_mark(store, names[2], pinned=True, label="before the refactor")
        set_mark(store, names[3], pinned=False, label="just a note")
    now = START + timedelta(days=10)
    reporter = RecordingReporter()
    clean_store(store, DAILY_3, reporter, now=now, tz=timezone.utc)
    expected = [names[2], names[15], names[17], names[19]]
    assert snapshots_in(dest) == expected
    assert set(load_marks(store)) == {names[2]}  # the removed snapshot's note went with it
    decisions = clean_store(store, DAILY_3, reporter, now=now, tz=timezone.utc)
    assert all(d.keep for d in decisions)
    assert snapshots_in(dest) == expected
    assert not list((dest / ".agsekit" / "trash").iterdir())

    with store.locked():
        set_mark(store, names[2], pinned=False)
    clean_store(store, DAILY_3, reporter, now=now, tz=timezone.utc)
    assert snapshots_in(dest) == expected[1:]
    # the survivors are intact and the next snapshot still links against the newest
    write(project / "after.txt", "x\n")
    outcome = snap(at=now)
    assert outcome.status == "created" and outcome.linked_files > 0


def test_backup_clean_command_with_config_policy(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    names = ten_days(project, snap)
    config = tmp_path / "config.yaml"
    config.write_text(
        "retention:\n  keep_within: 0m\n  keep_hourly: 0\n  keep_daily: 0\n"
        "  keep_weekly: 0\n  keep_monthly: 1\n"
    )
    pin = run_cli("backup-pin", names[0], "--dest-dir", dest, "--config", config)
    assert pin.returncode == 0, pin.stderr
    dry = run_cli("backup-clean", "--dest-dir", dest, "--config", config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove  {names[1]}" in dry.stdout
    assert "(pinned" in dry.stdout and "newest" in dry.stdout
    assert "Kept 2, would remove 18." in dry.stdout
    assert snapshots_in(dest) == names
    real = run_cli("backup-clean", "--dest-dir", dest, "--config", config)
    assert real.returncode == 0, real.stderr
    assert snapshots_in(dest) == [names[0], names[-1]]
    again = run_cli("backup-clean", "--dest-dir", dest, "--config", config)
    assert "Kept 2, removed 0." in again.stdout
    assert "retention removed" in (dest / ".agsekit" / "log").read_text()


def test_interrupted_removal_never_leaves_a_half_snapshot(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    for index in range(1200):
        write(project / f"bulk{index % 12}" / f"f{index}.txt", f"{index}\n")
    for round_ in range(4):
        for index in range(0, 1200, 2):
            write(project / f"bulk{index % 12}" / f"f{index}.txt", f"{round_} {index}\n")
        snap()
    config = tmp_path / "config.yaml"
    config.write_text("retention:\n  keep_within: 0m\n  keep_hourly: 1\n  keep_daily: 0\n"
                      "  keep_weekly: 0\n  keep_monthly: 0\n")  # fmt: skip
    store = Store(dest)
    for delay in (0.25, 0.4, 0.55, 0.7):
        proc = subprocess.Popen(
            [sys.executable, "-m", "agsekit", "backup-clean", "--dest-dir", str(dest),
             "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(delay)
        proc.kill()
        proc.wait()
        for name in store.snapshot_names():
            recorded = manifest.load(store.state, name)
            assert recorded is not None, name
            on_disk = walk_snapshot(os.fsencode(dest / name))
            assert set(on_disk) == set(recorded), f"{name} after a kill at {delay}s"
    final = run_cli("backup-clean", "--dest-dir", dest, "--config", config)
    assert final.returncode == 0, final.stderr
    assert len(snapshots_in(dest)) == 1
    assert not list((dest / ".agsekit" / "trash").iterdir())


def test_mass_deletion_alarm_pins_logs_notifies_then_retention_keeps_it(
    project: Path, dest: Path, snap: Snap
) -> None:
    for index in range(12):
        write(project / "many" / f"{index}.txt", f"{index}\n")
    before = snap().name
    assert before is not None
    for index in range(12):
        (project / "many" / f"{index}.txt").unlink()
    outcome = snap()
    notes: list[tuple[str, str]] = []
    reporter = RecordingReporter()
    store = Store(dest)
    aftermath = after_snapshot(
        store,
        outcome,
        reporter,
        alarm=AlarmPolicy(),
        retention=RetentionPolicy(timedelta(0), 0, 0, 0, 0),
        notifier=lambda title, body: _record(notes, title, body),
    )
    assert aftermath.alarm is not None and aftermath.alarm.pinned == (before,)
    mark = load_marks(store)[before]
    assert mark.pinned and mark.label is not None
    assert mark.label.startswith("before mass deletion ")
    assert snapshots_in(dest) == [before, outcome.name]
    (warning,) = reporter.warnings
    assert "MASS DELETION" in warning
    assert (
        f"agsekit backup-restore --dest-dir {dest} --lost-in {aftermath.alarm.id} --in-place"
        in warning.replace(f"'{dest}'", str(dest))
    )
    assert "ALARM mass deletion" in (dest / ".agsekit" / "log").read_text()
    assert notes and before in notes[0][1]


def test_alarm_thresholds(project: Path, dest: Path, snap: Snap) -> None:
    snap()
    (project / "my notes.txt").unlink()  # 1 of 9 files, 18 of 2,100 bytes
    small = snap()
    quiet = RecordingReporter()
    store = Store(dest)
    never: list[tuple[str, str]] = []
    assert after_snapshot(store, small, quiet, alarm=AlarmPolicy()).alarm is None
    by_count = AlarmPolicy(deleted_fraction=1.0, deleted_files=1)
    off = AlarmPolicy(enabled=False, deleted_files=1)
    assert after_snapshot(store, small, quiet, alarm=off).alarm is None
    raised = after_snapshot(
        store, small, quiet, alarm=by_count, notifier=lambda t, b: _record(never, t, b)
    )
    assert raised.alarm is not None
    assert quiet.warnings and never


def test_backup_once_raises_the_alarm_through_notify_send(
    project: Path, dest: Path, env: dict[str, str], tmp_path: Path
) -> None:
    run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, env=env)
    for name in ("data.bin", "my notes.txt", "link to notes", "debug.log"):
        (project / name).unlink()
    for folder in ("src/deep", "docs"):
        for entry in (project / folder).iterdir():
            entry.unlink()
    proc = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "MASS DELETION" in proc.stderr
    sent = (tmp_path / "notified").read_text()
    assert "--urgency=critical" in sent and snapshots_in(dest)[0] in sent


def test_loop_survives_a_failing_after_snapshot_step(project: Path, dest: Path) -> None:
    def broken(outcome: SnapshotOutcome) -> None:
        raise SnapshotError("disk on fire")

    reporter = RecordingReporter()
    job = LoopJob(SnapshotRequest(project, dest), 5, reporter, broken)
    store = Store(dest)
    run_once(job, store, threading.Event())
    assert len(snapshots_in(dest)) == 1
    assert any("disk on fire" in w for w in reporter.warnings)
    assert "disk on fire" in (dest / ".agsekit" / "log").read_text()


def test_loop_survives_an_unexpected_exception_and_retries(project: Path, dest: Path) -> None:
    """Not an error agsekit knows (a bug, say): the run is reported and logged with its
    traceback, the snapshot it took stays, and the next run goes on as usual."""
    calls: list[str | None] = []

    def buggy(outcome: SnapshotOutcome) -> None:
        calls.append(outcome.name)
        if len(calls) == 1:
            raise ZeroDivisionError("a bug nobody expected")

    reporter = RecordingReporter()
    job = LoopJob(SnapshotRequest(project, dest), 5, reporter, aftercare=buggy)
    store = Store(dest)
    first = run_once(job, store, threading.Event())
    assert first == "unexpected failure: ZeroDivisionError('a bug nobody expected')"
    assert len(snapshots_in(dest)) == 1  # the snapshot itself is safe
    assert any("failed unexpectedly: ZeroDivisionError" in w for w in reporter.warnings)
    log = (dest / ".agsekit" / "log").read_text()
    assert "unexpected failure: ZeroDivisionError" in log and "Traceback" in log
    write(project / "later.txt", "written after the failure\n")
    second = run_once(job, store, threading.Event())
    assert isinstance(second, SnapshotOutcome) and second.status == "created"
    assert len(snapshots_in(dest)) == 2 and calls[-1] == second.name


def test_pin_refuses_unknown_and_partial(project: Path, dest: Path, snap: Snap) -> None:
    name = snap().name
    assert name is not None
    for bad, message in (
        ("20990101T000000Z", "no snapshot named"),
        (f"{name}-partial", "unfinished"),
    ):
        proc = run_cli("backup-pin", bad, "--dest-dir", dest)
        assert proc.returncode == 2 and message in proc.stderr
    latest = run_cli("backup-pin", "latest", "--dest-dir", dest, "--label", "keep me")
    assert latest.returncode == 0 and f"Pinned {name} (label: keep me)" in latest.stdout


def test_take_snapshot_records_its_label(project: Path, dest: Path) -> None:
    take_snapshot(SnapshotRequest(project, dest, label="hello"), RecordingReporter())
    listing = run_cli("backup-list", "--dest-dir", dest)
    assert "hello" in listing.stdout


def test_repeated_mode_applies_retention_after_a_new_snapshot(
    project: Path, dest: Path, snap: Snap, env: dict[str, str], tmp_path: Path
) -> None:
    names = ten_days(project, snap)
    config = tmp_path / "config" / "agsekit" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "retention:\n  keep_within: 0m\n  keep_hourly: 0\n  keep_daily: 0\n"
        "  keep_weekly: 0\n  keep_monthly: 1\n"
    )
    store = Store(dest)
    with store.locked():
        set_mark(store, names[4], pinned=True)
    write(project / "fresh.txt", "new work\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agsekit", "backup-repeated", "--source-dir", str(project),
         "--dest-dir", str(dest), "--interval", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not (lines[-1] == "" or "Done, waiting" in lines[-1]):
            lines.append(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert any("retention removed" in line for line in lines), lines
    remaining = snapshots_in(dest)
    assert len(remaining) == 2 and remaining[0] == names[4]
    assert (dest / remaining[1] / "fresh.txt").exists()
