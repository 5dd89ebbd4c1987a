"""Restores on stores made by the real engine (issue 3): a wiped project brought back,
dry runs, --delete, the safety snapshot, --to rules, path guards."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from agsekit.snapshots.engine.store import Store
from tests.helpers import describe_tree, run_cli, snapshots_in, write
from tests.history.conftest import NON_UTF8, Snap, modes_of_dirs, times_of


def test_wiped_project_comes_back_byte_for_byte(
    project: Path, dest: Path, env: dict[str, str], tmp_path: Path
) -> None:
    first = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, env=env)
    assert first.returncode == 0, first.stderr
    good = snapshots_in(dest)[0]
    before_tree, before_times = describe_tree(project), times_of(project)
    before_dirs = modes_of_dirs(project)

    # an agent wipes the project, keeping one file
    for entry in project.iterdir():
        if entry.name not in ("my notes.txt", "debug.log"):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    wiped = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, env=env)
    assert wiped.returncode == 0, wiped.stderr
    assert "MASS DELETION" in wiped.stderr and good in wiped.stderr
    bring_back = next(
        line.split("Bring it all back:", 1)[1].split()
        for line in wiped.stderr.splitlines()
        if "Bring it all back:" in line
    )
    assert bring_back[:2] == ["agsekit", "backup-restore"] and "--lost-in" in bring_back
    assert good in (tmp_path / "notified").read_text()

    # notice what is gone
    deleted = run_cli("backup-deleted", "--dest-dir", dest, "--json", env=env)
    assert deleted.returncode == 0, deleted.stderr
    gone = {item["path"]: item for item in json.loads(deleted.stdout)}
    assert gone["src/main.py"]["last_snapshot"] == good
    assert gone["link to notes"]["kind"] == "symlink"
    assert "my notes.txt" not in gone and "debug.log" not in gone
    weird = next(item for item in gone.values() if "path_hex" in item)
    assert bytes.fromhex(weird["path_hex"]) == NON_UTF8

    # bring it back with exactly the command the alarm printed
    restore = run_cli(*bring_back[1:], env=env)
    assert restore.returncode == 0, restore.stderr
    assert describe_tree(project) == before_tree
    assert times_of(project) == before_times
    assert modes_of_dirs(project) == before_dirs
    assert os.readlink(project / "src" / "escape") == "../../outside/secret"
    assert not (tmp_path / "outside").exists()
    # copies, never hard links into the snapshot
    assert os.stat(project / "src" / "main.py").st_nlink == 1


def test_dry_run_changes_nothing(project: Path, dest: Path, snap: Snap) -> None:
    name = snap().name
    assert name is not None
    write(project / "my notes.txt", "changed\n")
    (project / "src" / "main.py").unlink()
    write(project / "extra.txt", "new\n")
    tree, times, snaps = describe_tree(project), times_of(project), snapshots_in(dest)
    proc = run_cli(
        "backup-restore", "--dest-dir", dest, "--snapshot", name, "--in-place", "--delete",
        "--dry-run",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "overwrite my notes.txt" in proc.stdout
    assert "create src/main.py" in proc.stdout
    assert "delete extra.txt" in proc.stdout
    assert describe_tree(project) == tree
    assert times_of(project) == times
    assert snapshots_in(dest) == snaps


def test_delete_only_with_delete_and_never_ignored_files(
    project: Path, dest: Path, snap: Snap
) -> None:
    name = snap().name
    assert name is not None
    write(project / "extra.txt", "new\n")
    write(project / "src" / "new dir" / "f.py", "y\n")
    write(project / "more.log", "ignored by .backupignore\n")
    args = ("backup-restore", "--dest-dir", dest, "--snapshot", name, "--in-place")
    kept = run_cli(*args)
    assert kept.returncode == 0, kept.stderr
    assert (project / "extra.txt").exists() and (project / "src" / "new dir" / "f.py").exists()
    assert "add --delete" in kept.stdout
    removed = run_cli(*args, "--delete")
    assert removed.returncode == 0, removed.stderr
    assert not (project / "extra.txt").exists()
    assert not (project / "src" / "new dir").exists()
    assert (project / "more.log").read_text() == "ignored by .backupignore\n"
    assert (project / "debug.log").exists()


def test_in_place_restore_can_be_undone(project: Path, dest: Path, snap: Snap) -> None:
    old = snap().name
    assert old is not None
    write(project / "my notes.txt", "work of the last hour\n")
    write(project / "brand new.txt", "more work\n")
    (project / "data.bin").unlink()
    current = describe_tree(project)
    proc = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", old, "--in-place")
    assert proc.returncode == 0, proc.stderr
    assert (project / "my notes.txt").read_text() == "remember the milk\n"
    safety = [n for n in snapshots_in(dest) if n != old]
    assert len(safety) == 1
    assert f"Saved the state before the restore as snapshot {safety[0]}" in proc.stdout
    lines = proc.stdout.splitlines()
    undo_line = lines[lines.index("To undo this restore:") + 1].strip()
    assert undo_line.endswith(f"--snapshot {safety[0]} --in-place --delete")
    listing = json.loads(run_cli("backup-list", "--dest-dir", dest, "--json").stdout)
    assert listing[-1]["label"] == f"before restore of {old}"

    undo = run_cli(*undo_line.split()[1:])
    assert undo.returncode == 0, undo.stderr
    assert describe_tree(project) == current
    assert "Nothing had changed since snapshot" in undo.stdout or "Saved" in undo.stdout


def test_restore_when_nothing_changed_names_the_latest(
    project: Path, dest: Path, snap: Snap
) -> None:
    name = snap().name
    proc = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", "latest", "--in-place")
    assert proc.returncode == 0, proc.stderr
    assert "overwrites and removes nothing" in proc.stdout
    assert "9 already matched" in proc.stdout
    assert snapshots_in(dest) == [name]


def test_restore_some_paths_to_a_folder(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    name = snap().name
    assert name is not None
    out = tmp_path / "out"
    proc = run_cli(
        "backup-restore", "--dest-dir", dest, "--snapshot", name, "--to", out,
        "docs/read only.md", "src/deep", os.fsdecode(NON_UTF8),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = describe_tree(out)
    assert set(got) == {
        b"docs",
        b"docs/read only.md",
        b"src",
        b"src/deep",
        b"src/deep/util.py",
        NON_UTF8,
    }
    assert got[b"docs/read only.md"][1] == 0o444
    refused = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", name, "--to", out)
    assert refused.returncode == 2
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    forced = run_cli(
        "backup-restore", "--dest-dir", dest, "--snapshot", name, "--to", out, "--force"
    )
    assert forced.returncode == 0, forced.stderr
    assert describe_tree(out) == describe_tree(dest / name)


def test_restore_by_time_picks_the_snapshot_before(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    first = snap().name
    write(project / "my notes.txt", "second version\n")
    snap()
    proc = run_cli(
        "backup-restore", "--dest-dir", dest, "--at", "2026-03-02T09:30:00Z",
        "--to", tmp_path / "out", "my notes.txt",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"Restored {first}" in proc.stdout
    assert (tmp_path / "out" / "my notes.txt").read_text() == "remember the milk\n"


def test_refusals(project: Path, dest: Path, snap: Snap, tmp_path: Path) -> None:
    name = snap().name
    assert name is not None
    os.mkdir(dest / f"{name[:-1]}9Z-partial")
    base = ("backup-restore", "--dest-dir", dest, "--to", tmp_path / "o")
    cases = [
        ((*base, "--snapshot", f"{name[:-1]}9Z-partial"), "unfinished snapshot"),
        ((*base, "--snapshot", name, "../etc/passwd"), "lies outside"),
        ((*base, "--snapshot", name, "/etc/passwd"), "lies outside"),
        ((*base, "--snapshot", name, "src/../../x"), "lies outside"),
        ((*base, "--snapshot", name, "no such file"), "is not in snapshot"),
        (
            (*base, "--snapshot", name, "--at", "1h ago"),
            "--snapshot NAME, --at TIME or --lost-in ALARM",
        ),
        (("backup-restore", "--dest-dir", dest, "--snapshot", name), "--to DIR or --in-place"),
        (
            ("backup-restore", "--dest-dir", dest, "--snapshot", name, "--to", dest / "x"),
            "snapshot folder",
        ),
    ]
    for args, message in cases:
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_symlink_in_place_of_a_folder_is_replaced_not_followed(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    name = snap().name
    assert name is not None
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(project / "src")
    os.symlink(outside, project / "src")
    proc = run_cli(
        "backup-restore", "--dest-dir", dest, "--snapshot", name, "--in-place", "src/main.py"
    )
    assert proc.returncode == 0, proc.stderr
    assert list(outside.iterdir()) == []
    assert (project / "src").is_dir() and not (project / "src").is_symlink()
    assert (project / "src" / "main.py").read_text() == "print('hi')\n"
    assert Store(dest).partial_names() == []
