"""The store tells the truth, and the alarm and history say what happened ("Nothing lost,
part 2", items 10-20): pins are never silently lost, damage inside a snapshot is caught
and not spread, a damaged store gives one clear line, one writer at a time, a restored
file is not a changed file, renames are not losses, kind changes are, clocks that lie."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agsekit.config.model import AlarmPolicy, RetentionPolicy
from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine.snapshot import SnapshotRequest, take_snapshot
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.alarm import after_snapshot
from agsekit.snapshots.keep.cleanup import clean_store
from agsekit.snapshots.keep.marks import load_marks
from tests.helpers import (
    describe_tree,
    manifest_as_rows,
    run_cli,
    snapshots_in,
    start_cli,
    write,
    write_manifest_rows,
)
from tests.history.conftest import Snap

NOTHING = "{keep_within: 0s, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}"


def test_pins_that_cannot_be_read_stop_retention_and_pin_writes(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    first = snap().name
    write(project / "new.txt")
    snap()
    assert first is not None
    assert run_cli("backup-pin", first, "--dest-dir", dest).returncode == 0
    assert (dest / ".agsekit" / "labels.json.bak").exists() or run_cli(
        "backup-pin", first, "--dest-dir", dest, "--label", "again"
    ).returncode == 0
    assert (dest / ".agsekit" / "labels.json.bak").exists()
    (dest / ".agsekit" / "labels.json").write_text("{not json")
    config = write(tmp_path / "c.yaml", f"retention: {NOTHING}\n")
    clean = run_cli("backup-clean", "--dest-dir", dest, "--config", config)
    assert clean.returncode == 1 and "pins" in clean.stderr and "labels.json.bak" in clean.stderr
    assert first in snapshots_in(dest)
    pin = run_cli("backup-pin", "latest", "--dest-dir", dest)
    assert pin.returncode == 1 and "Traceback" not in pin.stderr
    assert (dest / ".agsekit" / "labels.json").read_text() == "{not json"
    (dest / ".agsekit" / "labels.json").unlink()
    (dest / ".agsekit" / "labels.json").mkdir()  # a folder where the file should be
    listing = run_cli("backup-list", "--dest-dir", dest)
    assert listing.returncode == 0 and "cannot be read" in listing.stderr


def test_a_file_damaged_inside_a_snapshot_is_caught_and_not_linked_forward(
    project: Path, dest: Path, snap: Snap
) -> None:
    first = snap().name
    assert first is not None
    inside = dest / first / "src" / "main.py"
    inside.chmod(0o644)
    inside.write_text("print('tampered')\n")  # edited inside the store
    check = run_cli("backup-check", "--dest-dir", dest)
    assert check.returncode == 1 and "src/main.py" in check.stdout
    write(project / "other.txt")
    second = snap()
    assert any("src/main.py" in w and "copied again" in w for w in second.warnings)
    assert (dest / str(second.name) / "src" / "main.py").read_text() == "print('hi')\n"
    assert os.stat(dest / str(second.name) / "src" / "main.py").st_ino != inside.stat().st_ino


def test_read_data_catches_damage_that_kept_the_metadata(
    project: Path, dest: Path, snap: Snap
) -> None:
    first = snap().name
    assert first is not None
    inside = dest / first / "data.bin"
    st = inside.stat()
    data = bytearray(inside.read_bytes())
    data[10] ^= 0xFF  # a failing disk: same size, same time, other bytes
    inside.chmod(0o644)
    inside.write_bytes(bytes(data))
    os.utime(inside, ns=(st.st_atime_ns, st.st_mtime_ns))
    inside.chmod(st.st_mode & 0o777)
    assert run_cli("backup-check", "--dest-dir", dest).returncode == 0
    deep = run_cli("backup-check", "--dest-dir", dest, "--read-data", "--json")
    assert deep.returncode == 1
    report = json.loads(deep.stdout)
    assert not report["ok"]
    (damaged,) = report["snapshots"][0]["damaged"]
    assert damaged["path"] == "data.bin" and "content" in damaged["problem"]


def test_backup_check_reports_missing_and_extra_entries(
    project: Path, dest: Path, snap: Snap
) -> None:
    """A file removed from one snapshot and entries added to another: backup-check names
    each, as missing or as not recorded, in text and JSON, and exits 1; a store left as
    the engine wrote it checks clean."""
    first = snap().name
    write(project / "new.txt", "one more\n")
    second = snap().name
    assert first is not None and second is not None
    clean = run_cli("backup-check", "--dest-dir", dest)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (dest / first / "src" / "deep" / "util.py").unlink()
    write(dest / second / "planted.txt", "not from the project\n")
    (dest / second / "planted dir").mkdir()
    text = run_cli("backup-check", "--dest-dir", dest)
    assert text.returncode == 1
    assert f"{first}  DAMAGED:\n  missing: src/deep/util.py: recorded, not on disk\n" in text.stdout
    assert "  not recorded: planted.txt: on disk, not in the manifest\n" in text.stdout
    assert "  not recorded: planted dir: on disk, not in the manifest\n" in text.stdout
    assert "Checked the metadata of 2 snapshot(s): 2 damaged." in text.stdout
    report = json.loads(run_cli("backup-check", "--dest-dir", dest, "--json").stdout)
    assert not report["ok"]
    found = {s["name"]: s for s in report["snapshots"]}
    assert found[first]["missing"] == [{"path": "src/deep/util.py"}]
    assert found[first]["extra"] == [] and found[second]["missing"] == []
    assert found[second]["extra"] == [{"path": "planted dir"}, {"path": "planted.txt"}]
    deep = run_cli("backup-check", "--dest-dir", dest, "--read-data")
    assert deep.returncode == 1 and "missing: src/deep/util.py" in deep.stdout


def test_a_damaged_store_gives_one_clear_line(project: Path, dest: Path, snap: Snap) -> None:
    name = snap().name
    assert name is not None
    manifest = dest / ".agsekit" / "manifests" / f"{name}.manifest"
    doc = manifest_as_rows(manifest)
    entries: list[list[object]] = doc["entries"]  # type: ignore[assignment]
    entries[1][0] = 12345  # a path that is a number
    entries[2][2] = "rwx"  # a mode that is a string
    write_manifest_rows(manifest, doc)
    write(project / "more.txt")
    once = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    assert once.returncode == 0, once.stderr  # read from disk, as a missing manifest is
    assert run_cli("backup-diff", "--dest-dir", dest).returncode == 0
    a_file = write(dest.parent / "a-file", "x")
    for args in (
        ("backup-once", "--source-dir", a_file, "--dest-dir", dest),
        ("backup-list", "--dest-dir", a_file),
        ("backup-restore", "--dest-dir", dest, "--snapshot", "latest", "--to", a_file),
    ):
        proc = run_cli(*args)
        assert proc.returncode in (1, 2), proc.stderr
        assert "error" in proc.stderr.lower() and "Traceback" not in proc.stderr


def test_one_writer_even_if_the_state_files_are_removed(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    write(source / "a.txt", "a\n")
    dest = tmp_path / "dest"
    assert run_cli("backup-once", "--source-dir", source, "--dest-dir", dest).returncode == 0
    write(source / "b.txt", "b\n")
    store = Store(dest)
    with store.locked():  # a writer at work ...
        for leftover in (dest / ".agsekit").iterdir():  # ... and someone "cleaning up"
            if leftover.is_file():
                leftover.unlink()
        second = start_cli("backup-once", "--source-dir", source, "--dest-dir", dest)
        time.sleep(1.5)
        assert second.poll() is None, "a second writer got in"
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "waiting for another agsekit process" in out
    assert describe_tree(dest / snapshots_in(dest)[-1]) == describe_tree(source)


def test_a_restored_file_is_not_a_changed_file(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    for index in range(300):
        write(source / f"d{index % 10}" / f"f{index}.txt", f"content {index}\n" * 20)
    dest = tmp_path / "dest"
    run = ("backup-once", "--source-dir", source, "--dest-dir", dest, "--json")
    assert run_cli(*run).returncode == 0
    for folder in source.iterdir():
        shutil.rmtree(folder)
    restored = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", "latest", "--in-place")
    assert restored.returncode == 0, restored.stderr
    diff = run_cli("backup-diff", "--dest-dir", dest, "--stat")
    assert "0 added, 0 modified, 0 deleted" in diff.stdout
    after = json.loads(run_cli(*run).stdout)  # new inodes and ctimes, same content
    assert after["status"] == "unchanged" and after["modified"] == 0
    # a same-size rewrite that keeps the old mtime is still caught
    victim = source / "d1" / "f1.txt"
    st = victim.stat()
    victim.write_text("CONTENT 1\n" * 20)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    changed = json.loads(run_cli(*run).stdout)
    assert changed["status"] == "created" and changed["modified"] == 1
    assert changed["new_bytes"] == victim.stat().st_size


def test_a_rename_is_not_a_deletion(project: Path, dest: Path, snap: Snap) -> None:
    for index in range(10):
        write(project / "folder" / f"{index}.txt", f"file {index}\n")
    snap()
    os.rename(project / "folder", project / "renamed")
    outcome = snap()
    quiet, notes = RecordingReporter(), list[str]()

    def notify(title: str, body: str) -> bool:
        notes.append(body)
        return True

    aftermath = after_snapshot(Store(dest), outcome, quiet, alarm=AlarmPolicy(), notifier=notify)
    assert aftermath.alarm is None and not notes
    assert not any("MASS DELETION" in w for w in quiet.warnings)


def test_renamed_files_are_linked_not_copied_again(tmp_path: Path) -> None:
    """A renamed folder of 10 files and a moved file: the next snapshot links each to the
    copy the last one holds (the same inode in the store, no new data, no alarm). A file
    renamed after a same-size rewrite that kept its mtime is copied, not linked."""
    project, dest = tmp_path / "proj", tmp_path / "dest"
    for index in range(10):
        write(project / "folder" / f"{index}.txt", os.urandom(20_000))
    write(project / "moved.bin", os.urandom(50_000))
    rewritten = write(project / "rewritten.txt", "first words\n")
    once = ("backup-once", "--source-dir", project, "--dest-dir", dest, "--json")
    assert run_cli(*once).returncode == 0
    first = dest / snapshots_in(dest)[0]
    st = rewritten.stat()
    rewritten.write_text("other words\n")  # same size, the old mtime put back
    os.utime(rewritten, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(project / "folder", project / "renamed")
    os.mkdir(project / "elsewhere")
    os.rename(project / "moved.bin", project / "elsewhere" / "moved.bin")
    os.rename(rewritten, project / "rewritten, renamed.txt")
    proc = run_cli(*once)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "created" and "MASS DELETION" not in proc.stderr
    second = dest / result["name"]
    for index in range(10):
        old, new = first / "folder" / f"{index}.txt", second / "renamed" / f"{index}.txt"
        assert new.stat().st_ino == old.stat().st_ino
    assert (second / "elsewhere" / "moved.bin").stat().st_ino == (first / "moved.bin").stat().st_ino
    copy = second / "rewritten, renamed.txt"
    assert copy.read_text() == "other words\n"
    assert copy.stat().st_ino != (first / "rewritten.txt").stat().st_ino
    assert result["new_bytes"] == len("other words\n")
    check = run_cli("backup-check", "--dest-dir", dest, "--read-data")
    assert check.returncode == 0, check.stdout


def test_the_alarm_keeps_what_was_lost_on_the_way(tmp_path: Path) -> None:
    """An agent deletes 40% per interval: the reference is not the previous snapshot but
    the oldest (none is an hour old yet), so the second step sounds the alarm, and every
    snapshot holding a lost file is pinned and survives retention."""
    project, dest = tmp_path / "proj", tmp_path / "dest"
    for index in range(10):
        write(project / "work" / f"{index}.txt", f"{index}\n")
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    store = Store(dest)

    def step(minutes: int) -> object:
        moment = start + timedelta(minutes=minutes)
        outcome = take_snapshot(
            SnapshotRequest(project, dest), RecordingReporter(), clock=lambda: moment
        )
        return after_snapshot(
            store, outcome, RecordingReporter(), alarm=AlarmPolicy(), notifier=lambda t, b: True,
            now=moment,
        ).alarm  # fmt: skip

    assert step(0) is None
    first = store.latest()
    for index in range(4):
        (project / "work" / f"{index}.txt").unlink()
    write(project / "work" / "5.txt", "5, edited\n")
    assert step(5) is None  # 40%
    middle = store.latest()
    for index in range(4, 7):
        (project / "work" / f"{index}.txt").unlink()
    alarm = step(10)  # 70% since the oldest
    assert alarm is not None
    assert {first, middle} <= set(alarm.pinned)  # type: ignore[attr-defined]
    clean_store(store, RetentionPolicy(timedelta(0), 0, 0, 0, 0), RecordingReporter())
    assert {first, middle} <= set(snapshots_in(dest))
    assert load_marks(store)[str(first)].pinned


def test_outside_a_session_the_last_pinned_snapshot_is_the_reference(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """No snapshot is an hour old, so without a pin the reference would be the oldest,
    taken before the user's 20 new files: deleting them step by step would never be a
    loss. The user pinned the snapshot holding them: losses are measured from it, the
    second step sounds the alarm, and its one command brings all 16 files back."""
    project, dest = tmp_path / "proj", tmp_path / "dest"
    for name in ("a.txt", "b.txt", "c.txt"):
        write(project / name, f"{name}\n")

    def once() -> subprocess.CompletedProcess[str]:
        done = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, env=env)
        assert done.returncode == 0, done.stderr
        return done

    once()
    for index in range(20):
        write(project / "work" / f"{index:02}.txt", f"work {index}\n")
    once()
    pinned = snapshots_in(dest)[-1]
    assert run_cli("backup-pin", pinned, "--dest-dir", dest, env=env).returncode == 0
    before = describe_tree(project)
    for index in range(8):
        (project / "work" / f"{index:02}.txt").unlink()
    assert "MASS DELETION" not in once().stderr  # 8 of 23: under the threshold
    for index in range(8, 16):
        (project / "work" / f"{index:02}.txt").unlink()
    alarm = once().stderr
    assert "MASS DELETION: 16 of 23 files" in alarm, alarm
    assert f"since snapshot {pinned}" in alarm
    command = alarm.split("Bring it all back:", 1)[1].split("\n")[0].split()
    back = run_cli(*command[1:], env=env)
    assert back.returncode == 0, back.stderr
    assert describe_tree(project) == before


def test_kind_changes_are_losses_and_history_shows_them(
    project: Path, dest: Path, snap: Snap
) -> None:
    write(project / "notes", "a file\n")
    write(project / "conf", "settings\n")
    snap()
    (project / "notes").unlink()
    (project / "notes").mkdir()
    write(project / "notes" / "inside.txt", "now a folder\n")
    (project / "conf").unlink()
    os.symlink("my notes.txt", project / "conf")
    snap()
    gone = run_cli("backup-deleted", "--dest-dir", dest, "--json")
    found = {item["path"]: item for item in json.loads(gone.stdout)}
    assert found["notes"]["now"] == "a folder" and found["conf"]["now"] == "a symlink"
    history = run_cli("backup-history", "notes", "--dest-dir", dest, cwd=project)
    assert history.returncode == 0, history.stderr
    assert "folder" in history.stdout and "(was a file)" in history.stdout


def test_a_clock_that_was_ahead_does_not_name_the_future(
    project: Path, dest: Path, snap: Snap
) -> None:
    now = datetime.now(timezone.utc)
    ahead = snap(at=now + timedelta(days=1)).name
    write(project / "later.txt", "written after the glitch\n")
    reporter = RecordingReporter()
    outcome = take_snapshot(SnapshotRequest(project, dest), reporter, clock=lambda: now)
    assert outcome.name is not None and outcome.name < str(ahead)
    assert any("dated in the future" in w for w in reporter.warnings)
    assert Store(dest).latest() == outcome.name
    back = run_cli("backup-restore", "--dest-dir", dest, "--at", "now", "--to",
                   dest.parent / "at-now")  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert (dest.parent / "at-now" / "later.txt").exists()


def test_since_follows_the_order_snapshots_were_taken(
    project: Path, dest: Path, snap: Snap
) -> None:
    """A snapshot taken while the clock was a day ahead is named after the one taken
    later at the real time. backup-deleted --since goes by the order they were taken:
    what the later snapshot lacks went missing at it, and the newest copy is in the one
    taken before it (named in the future), not "still there"."""
    now = datetime.now(timezone.utc)
    write(project / "x.txt", "x\n")
    write(project / "y.txt", "y\n")
    snap(at=now - timedelta(days=3))
    (project / "y.txt").unlink()
    ahead = snap(at=now + timedelta(days=1)).name  # the glitch
    (project / "x.txt").unlink()
    later = take_snapshot(SnapshotRequest(project, dest), RecordingReporter(), clock=lambda: now)
    assert later.name is not None and ahead is not None and later.name < ahead
    proc = run_cli("backup-deleted", "--dest-dir", dest, "--since", "1h ago", "--json")
    assert proc.returncode == 0, proc.stderr
    found = {item["path"]: item for item in json.loads(proc.stdout)}
    assert found["x.txt"]["last_snapshot"] == ahead
    assert found["x.txt"]["gone_since"] == later.name
    assert found["y.txt"]["gone_since"] == ahead  # its real time is unknown: listed, not hidden
