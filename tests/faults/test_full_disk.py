"""A store on a small file system (a tmpfs in a private mount namespace): a snapshot the
room left cannot hold is refused up front; one that runs out of space or inodes half way
fails with one clear error that names what could not be written, leaves older snapshots
intact and nothing half-written behind, and the next run, with room again, succeeds. A
pin on a full disk fails the same way and leaves the pins file as it was."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.marks import load_marks
from tests.faults.harness import (
    Describer,
    agsekit_argv,
    changed_snapshots,
    incomplete_snapshots,
    leftovers,
)
from tests.faults.smallfs import SmallFs, small_fs
from tests.helpers import write

DURING_COPY = Path(__file__).with_name("during_copy.py")


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[SmallFs]:
    with small_fs(tmp_path / "small", size="8m", inodes=4000) as mounted:
        yield mounted


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "CONFIG_PATH": ""}


def backup(fs: SmallFs, src: Path, env: dict[str, str], *during: str) -> tuple[int, str, str]:
    args = ("backup-once", "--source-dir", str(src), "--dest-dir", str(fs.path / "store"))
    if during:
        argv = [sys.executable, str(DURING_COPY), *during, "--", *args]
    else:
        argv = agsekit_argv(*args)
    done = fs.run(argv, env)
    return done.returncode, done.stdout, done.stderr


def one_error(stderr: str) -> str:
    """The one `agsekit: error:` line a failure prints (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("agsekit: error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


class Project:
    """A source folder, its store on the small file system, and what the store held
    before the run under test."""

    def __init__(self, fs: SmallFs, root: Path, env: dict[str, str]) -> None:
        self.fs, self.src, self.env = fs, root / "src", env
        self.store = fs.seen / "store"
        self.describer = Describer()
        self.held = self.describer.snapshots(self.store) if self.store.exists() else {}

    def files(self, count: int, size: int, prefix: str = "f") -> None:
        for index in range(count):
            write(self.src / f"d{index % 8}" / f"{prefix}{index:04}.bin", os.urandom(size))

    def backup(self, *during: str) -> tuple[int, str, str]:
        self.held = self.describer.snapshots(self.store) if self.store.exists() else {}
        return backup(self.fs, self.src, self.env, *during)

    def snapshots(self) -> list[str]:
        return Store(self.store).snapshot_names()

    def assert_failed_cleanly(self, code: int, err: str) -> str:
        """Exit 1, one error line, older snapshots as they were, nothing half-written."""
        assert code == 1, err
        line = one_error(err)
        assert changed_snapshots(self.held, self.describer.snapshots(self.store)) == []
        assert leftovers(self.store) == []
        assert incomplete_snapshots(self.store) == []
        return line

    def assert_succeeds(self) -> None:
        count = len(self.snapshots())
        code, out, err = self.backup()
        assert code == 0, err
        assert out.startswith("Snapshot "), out
        assert len(self.snapshots()) == count + 1
        latest = self.store / self.snapshots()[-1]
        assert self.describer.content(latest) == self.describer.content(self.src)
        assert changed_snapshots(self.held, self.describer.snapshots(self.store)) == []
        assert leftovers(self.store) == []


@pytest.fixture
def project(fs: SmallFs, tmp_path: Path, env: dict[str, str]) -> Project:
    """A project with one snapshot on the small file system (about 1 MiB of 8)."""
    made = Project(fs, tmp_path, env)
    made.files(40, 25_000)
    made.assert_succeeds()
    return made


def test_a_snapshot_bigger_than_the_room_left_is_refused_up_front(project: Project) -> None:
    filler = project.fs.seen / "filler"
    filler.write_bytes(os.urandom(4 << 20))
    project.files(6, 500_000, prefix="large")  # 3 MB to copy, about 3 MB free
    code, _out, err = project.backup()
    line = project.assert_failed_cleanly(code, err)
    assert "not taking it" in line and "must keep 5%" in line, line
    assert len(project.snapshots()) == 1
    filler.unlink()
    project.assert_succeeds()


def test_too_many_files_for_the_inodes_left_is_refused_up_front(project: Project) -> None:
    project.fs.fill_inodes(keep=150)
    project.files(300, 100, prefix="tiny")
    code, _out, err = project.backup()
    line = project.assert_failed_cleanly(code, err)
    assert "inodes" in line and "not taking it" in line, line
    shutil.rmtree(project.fs.seen / "inodes")
    project.assert_succeeds()


def test_many_small_files_are_counted_by_the_blocks_they_use(project: Project) -> None:
    """2,000 files of 100 bytes hold 200 KB but use 8 MB of 4 KiB blocks: refused up
    front, not half copied."""
    filler = project.fs.seen / "filler"
    filler.write_bytes(os.urandom(3 << 20))
    project.files(2000, 100, prefix="tiny")
    code, _out, err = project.backup()
    line = project.assert_failed_cleanly(code, err)
    assert "not taking it" in line, line
    filler.unlink()
    for path in sorted(project.src.rglob("tiny*"))[1000:]:
        path.unlink()
    project.assert_succeeds()


def test_a_refused_snapshot_raises_the_alarm_once(project: Project, tmp_path: Path) -> None:
    """The refusal is one error plus the alarm: SNAPSHOTS STOPPED on stderr, a desktop
    notification and a line in the store's log; said once per reason, not every run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    notified = tmp_path / "notified"
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{notified}"\n')
    fake.chmod(0o755)
    project.env["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    filler = project.fs.seen / "filler"
    filler.write_bytes(os.urandom(4 << 20))
    project.files(6, 500_000, prefix="large")
    code, _out, err = project.backup()
    line = project.assert_failed_cleanly(code, err)
    reason = line.removeprefix("agsekit: error: ")
    assert f"!!! SNAPSHOTS STOPPED: {reason}" in err
    assert notified.read_text().splitlines()[-2:] == ["agsekit: snapshots stopped", reason]
    log = (project.store / ".agsekit" / "log").read_text()
    assert f"ALARM snapshots stopped: {reason}" in log
    again_code, _out, again = project.backup()
    assert project.assert_failed_cleanly(again_code, again) == line
    assert "SNAPSHOTS STOPPED" not in again  # the same reason: not raised again
    assert notified.read_text().count("agsekit: snapshots stopped") == 1
    filler.unlink()
    project.assert_succeeds()


def test_sparse_files_below_the_measured_size_never_stop_snapshots(project: Project) -> None:
    """300 files made by `truncate -s 1M` hold no data and use no disk: they cost the
    8 MiB store next to nothing, so they are neither refused for room nor called data far
    above the source's real disk use (an agent must not stop snapshots with them)."""
    (project.src / "holes").mkdir()
    for index in range(300):
        with (project.src / "holes" / f"h{index:03}").open("wb") as fh:
            fh.truncate(1 << 20)
    free_before = project.fs.free()
    project.assert_succeeds()
    latest = project.store / project.snapshots()[-1]
    assert (latest / "holes" / "h299").stat().st_size == 1 << 20
    assert (latest / "holes" / "h299").stat().st_blocks == 0  # kept sparse
    free_after = project.fs.free()
    assert free_before[0] - free_after[0] < 2 << 20  # folders and manifest, no data


def test_no_space_left_during_the_copy(project: Project) -> None:
    """A source file grows between the walk and its copy by more than the room left: the
    copy itself runs out of space."""
    filler = project.fs.seen / "filler"
    filler.write_bytes(os.urandom(3 << 20))
    project.files(10, 20_000, prefix="new")
    grown = sorted(project.src.rglob("new*"))[-1]
    code, _out, err = project.backup("grow:5000000", "1", str(grown))
    line = project.assert_failed_cleanly(code, err)
    assert "No space left on device" in line, line
    assert os.path.relpath(grown, project.src) in line, line  # the file it was writing
    filler.unlink()
    project.assert_succeeds()


def test_out_of_inodes_half_way(project: Project) -> None:
    """The inodes run out after 20 of 200 new files (another writer took them): the error
    names the first entry that could not be created; removing the partial snapshot needs
    no inode and no block, and the next run, once inodes are free again, succeeds."""
    project.files(200, 3000, prefix="new")
    inodes = project.fs.path / "inodes"
    code, _out, err = project.backup("inodes", "20", str(inodes))
    line = project.assert_failed_cleanly(code, err)
    assert "No space left on device" in line, line
    named = line.rpartition("(")[2].rstrip(")")
    assert (project.src / named).exists(), line
    _space, free_inodes = project.fs.free()
    assert free_inodes < 250  # the filler still holds the rest: the removal needed none
    shutil.rmtree(project.fs.seen / "inodes")
    project.assert_succeeds()


def test_pin_on_a_full_disk(project: Project) -> None:
    """backup-pin when no block is free: one error naming the file it could not write;
    the pins file as it was."""
    store = project.store
    first = project.snapshots()[0]
    dest = str(project.fs.path / "store")
    pinned = project.fs.run(
        agsekit_argv("backup-pin", first, "--dest-dir", dest, "--label", "kept"), project.env
    )
    assert pinned.returncode == 0, pinned.stderr
    labels = store / ".agsekit" / "labels.json"
    before = labels.read_bytes()
    project.files(3, 1000, prefix="more")
    project.assert_succeeds()
    project.fs.fill_space()
    latest = project.snapshots()[-1]
    done = project.fs.run(agsekit_argv("backup-pin", latest, "--dest-dir", dest), project.env)
    assert done.returncode == 1, done.stderr
    line = one_error(done.stderr)
    assert "No space left on device" in line and "labels.json" in line, line
    assert labels.read_bytes() == before
    marks = load_marks(Store(store))
    assert marks[first].pinned and latest not in marks
    assert leftovers(store) == []


def test_no_space_left_for_the_manifest(project: Project) -> None:
    """The disk fills up just after the last file is copied, so the manifest cannot be
    written: one error naming it, and no `-partial` folder stays behind."""
    project.files(10, 20_000, prefix="new")
    code, _out, err = project.backup("space", "0", str(project.fs.path / "filler"))
    line = project.assert_failed_cleanly(code, err)
    assert "No space left on device" in line and ".manifest" in line, line
    (project.fs.seen / "filler").unlink()
    project.assert_succeeds()
