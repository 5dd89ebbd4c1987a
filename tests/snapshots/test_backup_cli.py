"""The backup commands as a user runs them: processes, signals, locks, copy failures
(issue 2, behaviours 5-8 and 10)."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agsekit.snapshots.engine.store import Store
from tests.helpers import (
    describe_tree,
    run_cli,
    snapshots_in,
    start_cli,
    without_root_powers,
    write,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for index in range(20):
        write(root / f"dir{index % 4}" / f"file{index}.txt", f"content {index}\n")
    return root


def test_backup_once_reports_and_exits_zero(project: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    first = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Snapshot ")
    assert "20 added, 0 modified, 0 deleted" in first.stdout
    again = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    assert again.returncode == 0
    assert "No changes since snapshot" in again.stdout
    assert len(snapshots_in(dest)) == 1


def test_backup_once_json(project: Path, tmp_path: Path) -> None:
    import json

    proc = run_cli("backup-once", "--source-dir", project, "--dest-dir", tmp_path / "d", "--json")
    data = json.loads(proc.stdout)
    assert data["status"] == "created"
    assert data["files"] == 20


def test_emptied_source_exits_non_zero_and_names_last_good(project: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    good = snapshots_in(dest)[0]
    shutil.rmtree(project)
    project.mkdir()
    proc = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    assert proc.returncode == 3
    assert good in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshots_in(dest) == [good]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--source-dir", "{tmp}/missing", "--dest-dir", "{tmp}/d"), "does not exist"),
        (("--source-dir", "{tmp}/d", "--dest-dir", "{tmp}/d"), "cannot be the source itself"),
    ],
)
def test_bad_paths_are_clear_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "d").mkdir()
    proc = run_cli("backup-once", *(a.format(tmp=tmp_path) for a in args))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


# ----- 6. killed at any moment -----------------------------------------------------------


def test_sigkill_at_any_moment_never_leaves_a_false_snapshot(tmp_path: Path) -> None:
    src = tmp_path / "big"
    for index in range(1500):
        write(src / f"d{index % 30}" / f"f{index}", os.urandom(2048))
    dest = tmp_path / "dest"
    run_cli("backup-once", "--source-dir", src, "--dest-dir", dest)
    first = snapshots_in(dest)[0]
    first_tree = describe_tree(dest / first)
    for index in range(0, 1500, 3):
        write(src / f"d{index % 30}" / f"f{index}", os.urandom(2048))
    expected = describe_tree(src)
    for delay in (0.05, 0.15, 0.3, 0.45, 0.6, 0.9):
        proc = start_cli(
            "backup-once", "--source-dir", str(src), "--dest-dir", str(dest), capture=False
        )
        time.sleep(delay)
        proc.kill()
        proc.wait()
        for name in snapshots_in(dest):
            want = first_tree if name == first else expected
            assert describe_tree(dest / name) == want, f"{name} after a kill at {delay}s"
    final = run_cli("backup-once", "--source-dir", src, "--dest-dir", dest)
    assert final.returncode == 0, final.stderr
    assert describe_tree(dest / first) == first_tree
    assert describe_tree(dest / snapshots_in(dest)[-1]) == expected
    assert Store(dest).partial_names() == []


def test_leftover_partial_is_cleaned_and_older_snapshots_untouched(
    project: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    first = snapshots_in(dest)[0]
    before = describe_tree(dest / first)
    partial = dest / "20991231T235959Z-partial"
    os.link(dest / first / "dir0" / "file0.txt", write(partial / "x").parent / "linked")
    write(project / "new.txt")
    proc = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    assert proc.returncode == 0, proc.stderr
    assert "interrupted run" in proc.stdout
    assert not partial.exists()
    assert describe_tree(dest / first) == before


# ----- 7. one writer at a time -----------------------------------------------------------


def test_second_writer_waits_for_the_lock_and_says_so(project: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    store = Store(dest)
    released = threading.Event()

    def hold() -> None:
        with store.locked():
            released.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    proc = start_cli("backup-once", "--source-dir", str(project), "--dest-dir", str(dest))
    time.sleep(1.5)
    assert proc.poll() is None, "backup-once did not wait for the lock"
    assert snapshots_in(dest) == []
    released.set()
    holder.join()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "waiting for another agsekit process" in out
    assert len(snapshots_in(dest)) == 1


@pytest.fixture
def loop_process(project: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    dest = tmp_path / "dest"
    proc = start_cli(
        "backup-repeated",
        "--source-dir",
        str(project),
        "--dest-dir",
        str(dest),
        "--interval",
        "0.02",
    )
    yield proc, dest
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def read_until(proc: subprocess.Popen[str], needle: str, count: int = 1) -> list[str]:
    lines: list[str] = []
    assert proc.stdout is not None
    while sum(needle in line for line in lines) < count:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"process ended before {needle!r}: {lines}")
        lines.append(line)
    return lines


def test_repeated_loop_snapshots_changes_and_prints_done(
    loop_process: tuple[subprocess.Popen[str], Path], project: Path
) -> None:
    proc, dest = loop_process
    lines = read_until(proc, "Done, waiting 0.02 minutes")
    assert lines[0].startswith("Snapshot ")
    write(project / "added.txt", "new")
    lines = read_until(proc, "Snapshot ")
    assert len(snapshots_in(dest)) == 2
    assert (dest / snapshots_in(dest)[-1] / "added.txt").read_text() == "new"
    assert Store(dest).loop_running()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert not Store(dest).loop_running()


def test_loop_does_not_hold_the_lock_between_runs(
    loop_process: tuple[subprocess.Popen[str], Path], project: Path
) -> None:
    proc, dest = loop_process
    read_until(proc, "Done, waiting")
    write(project / "x.txt")
    once = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, timeout=60)
    assert once.returncode == 0


# ----- 8. copy failures ------------------------------------------------------------------


def test_any_name_is_backed_up_and_a_file_that_cannot_be_read_is_named(
    project: Path, tmp_path: Path
) -> None:
    # names rsync's --files-from would read as comments, and one the owner cannot read
    for name in ("#notes.md", ";scratch", "#hash.txt", "dir1/#inner", " lead", "-dash"):
        write(project / name, f"content of {name}\n")
    locked = write(project / "locked.txt", "secret\n")
    locked.chmod(0o000)
    dest = tmp_path / "dest"
    proc = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, as_owner=True)
    assert proc.returncode == 23, proc.stderr
    assert "locked.txt: Permission denied" in proc.stderr
    assert "no message" not in proc.stderr
    snapshot = dest / snapshots_in(dest)[0]
    for name in ("#notes.md", ";scratch", "#hash.txt", "dir1/#inner", " lead", "-dash"):
        assert (snapshot / name).read_text() == f"content of {name}\n"
    assert not (snapshot / "locked.txt").exists()
    # it is not forgotten: every later run says so again (no "No changes" with exit 0)
    again = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, as_owner=True)
    assert again.returncode == 23, again.stderr
    assert "locked.txt" in again.stderr
    locked.chmod(0o644)
    fixed = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, as_owner=True)
    assert fixed.returncode == 0, fixed.stderr
    assert (dest / snapshots_in(dest)[-1] / "locked.txt").read_text() == "secret\n"


def test_names_rsync_read_as_comments_are_restored(project: Path, tmp_path: Path) -> None:
    names = ("#notes.md", ";scratch", "#hash.txt", "dir1/#inner", " lead", "-dash")
    for name in names:
        write(project / name, f"content of {name}\n")
    dest = tmp_path / "dest"
    assert run_cli("backup-once", "--source-dir", project, "--dest-dir", dest).returncode == 0
    good = snapshots_in(dest)[0]
    out = tmp_path / "restored"
    copy = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", good, "--to", out)
    assert copy.returncode == 0, copy.stderr
    for name in names:
        (project / name).unlink()
        assert (out / name).read_text() == f"content of {name}\n"
    back = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", good, "--in-place",
                   "#notes.md", "dir1/#inner")  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert (project / "#notes.md").read_text() == "content of #notes.md\n"
    assert (project / "dir1" / "#inner").read_text() == "content of dir1/#inner\n"
    assert not (project / ";scratch").exists()  # only the paths asked for
    whole = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", good, "--in-place")
    assert whole.returncode == 0, whole.stderr
    assert all((project / n).read_text() == f"content of {n}\n" for n in names)


def test_more_than_ten_unreadable_files_are_named_ten_then_counted(
    project: Path, tmp_path: Path
) -> None:
    locked = [write(project / "locked" / f"{index:02}.txt", "secret\n") for index in range(13)]
    for path in locked:
        path.chmod(0o000)
    dest = tmp_path / "dest"
    proc = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, as_owner=True)
    assert proc.returncode == 23, proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if "could not be copied" in line]
    named = "; ".join(f"locked/{index:02}.txt: Permission denied" for index in range(10))
    assert line == f"warning: 13 file(s) could not be copied: {named}; and 3 more"
    snapshot = dest / snapshots_in(dest)[0]
    assert not (snapshot / "locked" / "00.txt").exists()
    assert (snapshot / "dir3" / "file19.txt").exists()  # the rest is in the snapshot


def test_vanished_files_give_a_complete_snapshot_with_a_warning(
    project: Path, tmp_path: Path
) -> None:
    from agsekit.core.reporting import RecordingReporter
    from agsekit.snapshots.engine.snapshot import SnapshotRequest, take_snapshot

    victim = project / "dir3" / "file19.txt"

    class DeletesOnFirstCopy(RecordingReporter):
        def progress(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
            victim.unlink(missing_ok=True)  # the first file is copied: now one vanishes

    dest = tmp_path / "dest"
    reporter = DeletesOnFirstCopy()
    outcome = take_snapshot(SnapshotRequest(project, dest), reporter)
    assert outcome.status == "created" and not outcome.incomplete
    assert any("vanished" in w for w in reporter.warnings)
    snapshot = dest / snapshots_in(dest)[0]
    assert not (snapshot / "dir3" / "file19.txt").exists()
    assert describe_tree(snapshot) == describe_tree(project)
    again = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    assert "No changes" in again.stdout


def test_a_failed_snapshot_is_one_clear_error_and_leaves_older_ones_intact(
    project: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    first = snapshots_in(dest)[0]
    before = describe_tree(dest / first)
    write(project / "new.txt")
    dest.chmod(0o555)
    try:
        proc = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, as_owner=True)
    finally:
        dest.chmod(0o755)
    assert proc.returncode == 1
    assert "Permission denied" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshots_in(dest) == [first]
    assert Store(dest).partial_names() == []
    assert describe_tree(dest / first) == before


def test_loop_survives_a_failed_run_and_retries(project: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    run_cli("backup-once", "--source-dir", project, "--dest-dir", dest)
    write(project / "new.txt")
    dest.chmod(0o555)
    proc = subprocess.Popen(
        [*without_root_powers(), sys.executable, "-m", "agsekit", "backup-repeated",
         "--source-dir", str(project), "--dest-dir", str(dest), "--interval", "0.01"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        time.sleep(2)
        dest.chmod(0o755)
        read_until(proc, "Snapshot ")
    finally:
        dest.chmod(0o755)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "Permission denied" in err
    assert "trying again" in err
    assert len(snapshots_in(dest)) == 2
    assert "failed: " in (dest / ".agsekit" / "log").read_text()


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_stopping_a_loop_mid_copy_leaves_nothing_behind(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    source = tmp_path / "big"
    for index in range(40):
        write(source / f"f{index:02}.bin", os.urandom(1 << 20) * 8)
    dest = tmp_path / "dest"
    proc = start_cli(
        "backup-repeated", "--source-dir", str(source), "--dest-dir", str(dest),
        capture=False, new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not Store(dest).partial_names() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert Store(dest).partial_names(), "the copy never started"
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    assert Store(dest).partial_names() == []
    assert snapshots_in(dest) == []
    once = run_cli("backup-once", "--source-dir", source, "--dest-dir", dest)
    assert once.returncode == 0, once.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


# ----- config-driven loops ---------------------------------------------------------------


def write_config(tmp_path: Path, *sources: Path) -> Path:
    mounts = "".join(
        f"  - source: {s}\n    backup: {tmp_path / ('b-' + s.name)}\n    interval: 0.01\n"
        for s in sources
    )
    return write(tmp_path / "config.yaml", f"vms:\n  agent: {{}}\nmounts:\n{mounts}")


def test_repeated_mount_finds_the_mount_from_a_path_inside_it(
    tmp_path: Path, project: Path
) -> None:
    config = write_config(tmp_path, project)
    proc = start_cli(
        "backup-repeated-mount", "--mount", str(project / "dir1"), "--config", str(config)
    )
    try:
        read_until(proc, "Done, waiting 0.01 minutes")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert len(snapshots_in(tmp_path / "b-project")) == 1


def test_repeated_mount_unknown_path_is_a_clear_error(tmp_path: Path, project: Path) -> None:
    config = write_config(tmp_path, project)
    proc = run_cli("backup-repeated-mount", "--mount", tmp_path / "elsewhere", "--config", config)
    assert proc.returncode == 2
    assert "is not inside any mount" in proc.stderr
    assert str(project) in proc.stderr


def test_repeated_all_runs_every_mount_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    sources = [tmp_path / "alpha", tmp_path / "beta"]
    for source in sources:
        write(source / "f.txt", source.name)
    config = write_config(tmp_path, *sources)
    proc = start_cli("backup-repeated-all", "--config", config)
    try:
        lines = read_until(proc, "Done, waiting", count=2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert any(line.startswith("[alpha] ") for line in lines)
    assert any(line.startswith("[beta] ") for line in lines)
    for source in sources:
        assert len(snapshots_in(tmp_path / f"b-{source.name}")) == 1


# ----- 10. progress only on a terminal ---------------------------------------------------


def run_in_pty(args: list[str]) -> str:
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execv(sys.executable, [sys.executable, "-m", "agsekit", *args])
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8", "replace")


def test_first_snapshot_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    src = tmp_path / "large"
    for index in range(300):
        write(src / f"d{index % 10}" / f"f{index}", os.urandom(200_000))
    on_tty = run_in_pty(
        ["backup-once", "--source-dir", str(src), "--dest-dir", str(tmp_path / "a")]
    )
    assert "copying" in on_tty
    counts = [int(n) for n in re.findall(r"(\d+)/300 files", on_tty)]
    assert counts and max(counts) > 0, on_tty[-500:]
    piped = run_cli("backup-once", "--source-dir", src, "--dest-dir", tmp_path / "b")
    assert "copying" not in piped.stdout + piped.stderr
    assert "\x1b[" not in piped.stdout + piped.stderr


def test_a_find_without_printf_means_a_full_walk_not_a_wrong_answer(tmp_path: Path) -> None:
    """BSD find rejects -printf: the no-change check then walks the tree itself."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "find").write_text('#!/bin/sh\necho "find: -printf: unknown primary" >&2\nexit 1\n')
    (fake / "find").chmod(0o755)
    env = {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    source, dest = tmp_path / "src", tmp_path / "store"
    write(source / "a.txt", "one\n")
    runs = []
    for text in (None, "two\n", None):
        if text is not None:
            write(source / "a.txt", text)
        runs.append(run_cli("backup-once", "--source-dir", source, "--dest-dir", dest, env=env))
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr for r in runs]
    assert "1 modified" in runs[1].stdout
    assert "No changes" in runs[2].stdout
    assert len(snapshots_in(dest)) == 2
