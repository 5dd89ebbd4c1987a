"""Ways an agent could destroy the project without the mass-deletion alarm going off, or
hide files from the snapshots without anyone being told.

Each attack runs `backup-once` for real after it (the alarm runs with the defaults:
half the files, or 1,000); the alarm must be printed, logged and sent to the desktop
(a fake notify-send records it). Outside an agent session the reference the loss is
measured from is the last pinned snapshot, else the newest snapshot at least an hour
old, else the oldest: snapshots taken "hours ago" are made with the engine's clock.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine.snapshot import SnapshotRequest, take_snapshot
from tests.attack.tools import agsekit
from tests.helpers import snapshots_in, write

REAL = 100


def _real_files(project: Path) -> list[Path]:
    return [
        write(project / "src" / f"module{index:03d}.py", f"# module {index}\n" + "x = 1\n" * 150)
        for index in range(REAL)
    ]


def _snap(project: Path, store: Path, env: dict[str, str]) -> str:
    proc = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert proc.returncode in (0, 3), proc.stderr
    return proc.stderr


def _alarmed(stderr: str, tmp_path: Path, lost: int) -> None:
    assert f"MASS DELETION: {lost} of " in stderr, stderr
    assert "Bring it all back: agsekit backup-restore" in stderr
    assert "files deleted" in (tmp_path / "notified").read_text()


def _snap_at(project: Path, store: Path, moment: datetime) -> None:
    take_snapshot(SnapshotRequest(project, store), RecordingReporter(), clock=lambda: moment)


def test_truncating_every_file_to_zero(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    files = _real_files(project)
    _snap(project, store, env)
    for path in files:
        os.truncate(path, 0)
    _alarmed(_snap(project, store, env), tmp_path, REAL)


def test_replacing_every_file_with_an_empty_one(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    files = _real_files(project)
    _snap(project, store, env)
    for path in files:
        path.unlink()
        path.touch()
    _alarmed(_snap(project, store, env), tmp_path, REAL)


def test_junk_files_first_then_deleting_the_real_ones(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    files = _real_files(project)
    _snap(project, store, env)
    for index in range(150):
        write(project / "junk" / f"j{index}.bin", os.urandom(4096))
    assert "MASS DELETION" not in _snap(project, store, env)
    for path in files:
        path.unlink()
    _alarmed(_snap(project, store, env), tmp_path, REAL)


def test_deleting_forty_percent_per_snapshot(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    left = _real_files(project)
    _snap(project, store, env)
    outputs = []
    for _ in range(3):
        cut = len(left) * 2 // 5
        for path in left[:cut]:
            path.unlink()
        left = left[cut:]
        outputs.append(_snap(project, store, env))
    assert "MASS DELETION" not in outputs[0]
    assert any("MASS DELETION" in out for out in outputs[1:]), outputs
    assert "files deleted" in (tmp_path / "notified").read_text()


def test_files_replaced_by_empty_folders_of_the_same_names(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    files = _real_files(project)
    write(project / "README.md", "kept, so that the snapshot is taken\n")
    _snap(project, store, env)
    for path in files:
        path.unlink()
        path.mkdir()
    out = _snap(project, store, env)
    _alarmed(out, tmp_path, REAL)
    assert f"{REAL} became folders, symlinks or special files" in out


def test_files_replaced_by_symlinks_and_fifos_of_the_same_names(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """Half the files become symlinks (to a file that stays), half become FIFOs: no
    content is left at any of the names, so it is a mass deletion, and the one command
    brings every file back (a FIFO holds nothing to save first: it is replaced, and
    named, not left in the file's place)."""
    files = _real_files(project)
    write(project / "README.md", "kept, so that the snapshot is taken\n")
    _snap(project, store, env)
    for index, path in enumerate(files):
        path.unlink()
        if index % 2:
            os.symlink("../README.md", path)
        else:
            os.mkfifo(path)
    out = _snap(project, store, env)
    _alarmed(out, tmp_path, REAL)
    assert "became folders, symlinks or special files" in out
    command = out.split("Bring it all back: ", 1)[1].split("\n")[0].split()
    back = agsekit(*command[1:], env=env)
    assert back.returncode == 0, back.stderr
    assert "50 path(s) replaced that were FIFOs, sockets or devices" in back.stdout
    assert "left alone" not in back.stdout
    for index, path in enumerate(files):
        assert path.is_file() and not path.is_symlink(), path
        assert path.read_text() == f"# module {index}\n" + "x = 1\n" * 150


def test_deleting_a_folders_files_then_locking_it(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """The agent empties src/ and makes it unreadable (chmod 000, as the project's owner
    may). Snapshots keep what src/ held (unreadable is not deleted) and say they could not
    read it; backup-deleted, the first thing a user runs, must not answer "Nothing is
    missing" without naming the folder it could not look into."""
    files = _real_files(project)
    write(project / "README.md", "kept\n")
    _snap(project, store, env)
    for path in files:
        path.unlink()
    (project / "src").chmod(0)
    try:
        once = agsekit(
            "backup-once", "--source-dir", project, "--dest-dir", store, env=env, as_owner=True
        )
        assert once.returncode == 23 and "could not read src: Permission denied" in once.stderr
        deleted = agsekit("backup-deleted", "--dest-dir", store, env=env, as_owner=True)
    finally:
        (project / "src").chmod(0o755)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip().endswith("outside the folders that could not be read."), (
        deleted.stdout
    )
    assert "1 live folder(s) could not be read" in deleted.stderr and ": src" in deleted.stderr


def test_star_in_backupignore(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    _real_files(project)
    _snap(project, store, env)
    write(project / ".backupignore", "*\n")
    refused = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert refused.returncode == 3
    assert "every file in" in refused.stderr and "left out by the ignore rules" in refused.stderr
    _alarmed(refused.stderr, tmp_path, REAL)
    assert len(snapshots_in(store)) == 1


def test_star_in_backupignore_that_keeps_itself(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    _real_files(project)
    _snap(project, store, env)
    write(project / ".backupignore", "*\n!.backupignore\n")
    out = _snap(project, store, env)
    _alarmed(out, tmp_path, REAL)
    assert f"{REAL} are still there but now left out by the ignore rules" in out
    assert f"the ignore rules now leave out {REAL} file(s)" in out


def test_rules_written_before_the_user_creates_the_files(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """The agent adds `*.draft` and `new_feature/` to .backupignore; the user then writes
    plan.draft and new_feature/: they are in no snapshot. backup-diff says so, last."""
    _real_files(project)
    _snap(project, store, env)
    write(project / ".backupignore", "*.draft\nnew_feature/\n")
    _snap(project, store, env)
    write(project / "plan.draft", "the user's plan\n")
    write(project / "new_feature" / "feature.py", "def feature(): ...\n")
    _snap(project, store, env)
    latest = store / snapshots_in(store)[-1]
    assert not (latest / "plan.draft").exists() and not (latest / "new_feature").exists()
    diff = agsekit("backup-diff", "--dest-dir", store, env=env)
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.splitlines()[-1] == (
        "Left out by the ignore rules, so in no snapshot: 2 path(s): new_feature, plan.draft"
    )


def test_the_snapshot_after_the_rule_change_says_what_is_newly_left_out(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """Rules that match nothing yet still leave out every file the user writes later:
    the snapshot that takes the new rules says which patterns are new, and where."""
    _real_files(project)
    write(project / ".backupignore", "*.log\n")
    _snap(project, store, env)
    write(project / ".backupignore", "*.log\n*.draft\nnew_feature/\n!keep.draft\n")
    write(project / "sub" / ".backupignore", "\x1b[8m*\n")
    changed = _snap(project, store, env)
    assert (
        "the ignore rules changed since snapshot " in changed
        and "they now also leave out what matches *.draft (.backupignore), new_feature/ "
        '(.backupignore), "\\033[8m*" (sub/.backupignore): such paths, now or created '
        "later, are in no snapshot"
        in changed
    ), changed
    host = agsekit(
        "backup-once", "--source-dir", project, "--dest-dir", store, "--exclude", "secret*",
        env=env,
    )  # fmt: skip
    assert "they now also leave out what matches secret* (--exclude)" in host.stderr
    again = _snap(project, store, env)
    assert "the ignore rules changed" not in again


def test_forty_percent_every_hour(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    left = _real_files(project)
    now = datetime.now(timezone.utc)
    for hours in (3, 2, 1):
        _snap_at(project, store, now - timedelta(hours=hours, minutes=1))
        cut = len(left) * 2 // 5
        for path in left[:cut]:
            path.unlink()
        left = left[cut:]
    assert len(left) < REAL // 4  # three quarters of the project are gone
    _alarmed(_snap(project, store, env), tmp_path, REAL - len(left))


def test_overwriting_every_file_with_junk_of_the_same_size(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    files = _real_files(project)
    _snap(project, store, env)
    for path in files:
        path.write_bytes(os.urandom(path.stat().st_size))
    stderr = _snap(project, store, env)
    assert f"MASS OVERWRITE: 0 of {REAL} files" in stderr, stderr
    assert f"and {REAL} more were overwritten with other content of the same size" in stderr
    assert "files deleted" in (tmp_path / "notified").read_text()
    command = stderr.split("Bring it all back:", 1)[1].split()
    back = agsekit(*command[1:], env=env)
    assert back.returncode == 0, back.stderr
    assert not any(path.read_bytes() == b"" for path in files)
    assert all(path.read_bytes().startswith(b"# module") for path in files)
