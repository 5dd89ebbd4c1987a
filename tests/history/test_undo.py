"""A restore can always be undone ("Nothing lost, part 2", items 1-9; "Nothing lost", item
5): the safety snapshot holds everything the restore changes, ignored files included; the
snapshot's own rules decide what is ignored; the undo point is pinned and announced at
once; a bad path or an unreadable folder costs nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agsekit.snapshots.engine.store import Store
from tests.helpers import (
    describe_tree,
    manifest_as_rows,
    run_cli,
    snapshots_in,
    write,
    write_manifest_rows,
)
from tests.history.conftest import Snap


def restore(
    dest: Path, name: str, *extra: str, as_owner: bool = False
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "backup-restore", "--dest-dir", dest, "--snapshot", name, "--in-place", *extra,
        as_owner=as_owner,
    )  # fmt: skip


def undo_command(output: str) -> list[str]:
    lines = output.splitlines()
    return lines[lines.index("To undo this restore:") + 1].split()[1:]


def test_the_safety_snapshot_holds_files_the_live_rules_ignore(
    project: Path, dest: Path, snap: Snap
) -> None:
    write(project / ".env", "TOKEN=old\n")
    old = snap().name
    assert old is not None
    write(project / ".backupignore", "*.log\n.env\n")  # now .env is ignored ...
    write(project / ".env", "TOKEN=new, never in any snapshot\n")  # ... and changed
    before = describe_tree(project)
    proc = restore(dest, old)
    assert proc.returncode == 0, proc.stderr
    assert (project / ".env").read_text() == "TOKEN=old\n"
    undo = run_cli(*undo_command(proc.stdout))
    assert undo.returncode == 0, undo.stderr
    assert describe_tree(project) == before


def test_star_in_the_live_backupignore_still_gets_a_safety_snapshot(
    project: Path, dest: Path, snap: Snap
) -> None:
    old = snap().name
    assert old is not None
    write(project / "my notes.txt", "edited\n")
    write(project / ".backupignore", "*\n")
    before = describe_tree(project)
    proc = restore(dest, old)
    assert proc.returncode == 0, proc.stderr
    assert "held no files" not in proc.stdout
    assert (project / "my notes.txt").read_text() == "remember the milk\n"
    undo = run_cli(*undo_command(proc.stdout))
    assert undo.returncode == 0, undo.stderr
    assert describe_tree(project) == before


def test_a_file_the_safety_snapshot_cannot_read_is_left_alone_and_named(
    project: Path, dest: Path, snap: Snap
) -> None:
    old = snap().name
    assert old is not None
    locked = write(project / "my notes.txt", "work nobody saved\n")
    locked.chmod(0o000)
    proc = restore(dest, old, as_owner=True)
    assert proc.returncode == 0, proc.stderr
    assert "my notes.txt" in proc.stdout and "not saved" in proc.stdout
    locked.chmod(0o644)
    assert locked.read_text() == "work nobody saved\n"


def test_delete_keeps_what_the_snapshots_rules_ignore_inside_a_folder_it_removes(
    project: Path, dest: Path, snap: Snap
) -> None:
    write(project / ".backupignore", "*.log\n.env\nnode_modules/\n")
    old = snap().name
    assert old is not None
    write(project / "service" / "main.py", "print(1)\n")
    write(project / "service" / ".env", "KEY=only here\n")
    write(project / "service" / "node_modules" / "x.js", "x\n")
    dry = restore(dest, old, "--delete", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "delete service/main.py" in dry.stdout
    assert "service/.env" in dry.stdout and "ignore rules leave them out" in dry.stdout
    proc = restore(dest, old, "--delete")
    assert proc.returncode == 0, proc.stderr
    assert not (project / "service" / "main.py").exists()
    assert (project / "service" / ".env").read_text() == "KEY=only here\n"
    assert (project / "service" / "node_modules" / "x.js").read_text() == "x\n"


def test_a_live_folder_holding_ignored_files_is_never_replaced_by_a_file(
    project: Path, dest: Path, snap: Snap
) -> None:
    write(project / "service", "a file in the snapshot\n")
    write(project / ".backupignore", "*.log\n.env\n")
    old = snap().name
    assert old is not None
    (project / "service").unlink()
    write(project / "service" / ".env", "SECRET=keep me\n")
    for extra in ((), ("--delete",)):
        proc = restore(dest, old, *extra)
        assert proc.returncode == 0, proc.stderr
        assert "service" in proc.stdout and "not replaced" in proc.stdout
        assert (project / "service" / ".env").read_text() == "SECRET=keep me\n"


def test_the_undo_gives_back_the_tree_exactly_even_after_delete_removed_the_ignore_file(
    project: Path, dest: Path, snap: Snap
) -> None:
    (project / ".backupignore").unlink()
    (project / "debug.log").unlink()
    old = snap().name
    assert old is not None
    write(project / ".backupignore", "secret/\n")
    write(project / "secret" / "key.pem", "-----BEGIN KEY-----\n")
    write(project / "work.txt", "today\n")
    before = describe_tree(project)
    proc = restore(dest, old, "--delete")
    assert proc.returncode == 0, proc.stderr
    assert not (project / ".backupignore").exists() and not (project / "work.txt").exists()
    undo = run_cli(*undo_command(proc.stdout))
    assert undo.returncode == 0, undo.stderr
    assert describe_tree(project) == before


def test_the_undo_point_is_pinned_and_survives_retention(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    old = snap().name
    assert old is not None
    write(project / "my notes.txt", "new work\n")
    proc = restore(dest, old)
    assert proc.returncode == 0, proc.stderr
    safety = undo_command(proc.stdout)[undo_command(proc.stdout).index("--snapshot") + 1]
    assert f"snapshot {safety} is pinned: it is kept until you unpin it" in proc.stdout
    nothing = "{keep_within: 0s, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}"
    config = write(tmp_path / "keep-nothing.yaml", f"retention: {nothing}\n")
    clean = run_cli("backup-clean", "--dest-dir", dest, "--config", config)
    assert clean.returncode == 0, clean.stderr
    assert safety in snapshots_in(dest)


@pytest.mark.parametrize(
    ("stop", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "Ctrl+C"]
)
def test_a_stopped_restore_says_it_is_partial_and_prints_the_undo(
    tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    source = tmp_path / "big"
    for index in range(30):
        write(source / f"f{index:02}.bin", os.urandom(1 << 20) * 6)
    write(source / "changed.txt", "original\n")
    dest = tmp_path / "dest"
    assert run_cli("backup-once", "--source-dir", source, "--dest-dir", dest).returncode == 0
    old = snapshots_in(dest)[0]
    for index in range(30):
        (source / f"f{index:02}.bin").unlink()
    write(source / "changed.txt", "newer work\n")
    before = describe_tree(source)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agsekit", "backup-restore", "--dest-dir", str(dest),
         "--snapshot", old, "--in-place"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    seen: list[str] = []
    while "To undo this restore:" not in "".join(seen):
        line = proc.stdout.readline()
        assert line, f"ended before the undo line: {seen}"
        seen.append(line)
    proc.send_signal(stop)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert "Traceback" not in err
    assert "partly restored" in err
    undo = err.split("To go back to the state before it:\n", 1)[1].splitlines()[0].split()[1:]
    assert run_cli(*undo).returncode == 0
    assert describe_tree(source) == before


def _immutable(folder: Path) -> None:
    """chattr +i: not even root can create, rename or remove entries in the folder."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr to make a folder the restore cannot change")
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("this filesystem has no immutable flag")


def test_a_restore_that_fails_half_way_says_it_is_partial_and_prints_the_undo(
    tmp_path: Path,
) -> None:
    source = tmp_path / "project"
    for index in range(3):
        write(source / "a" / f"f{index}.txt", f"old {index}\n")
        write(source / "z" / f"g{index}.txt", f"old z {index}\n")
    dest = tmp_path / "dest"
    assert run_cli("backup-once", "--source-dir", source, "--dest-dir", dest).returncode == 0
    old = snapshots_in(dest)[0]
    for index in range(3):  # work that no snapshot holds yet
        write(source / "a" / f"f{index}.txt", f"new {index}\n")
        write(source / "z" / f"g{index}.txt", f"new z {index}\n")
    write(source / "a" / "added.txt", "added later\n")
    before = describe_tree(source)
    _immutable(source / "z")  # a/ can be restored, z/ cannot
    try:
        proc = restore(dest, old, "--delete")
        after_failure = describe_tree(source)
    finally:
        subprocess.run(["chattr", "-i", str(source / "z")], check=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert (source / "a" / "f0.txt").read_text() == "old 0\n"  # half-way: a/ restored ...
    assert (source / "z" / "g0.txt").read_text() == "new z 0\n"  # ... z/ not
    assert after_failure != before
    assert "partly restored" in proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("agsekit: error: Operation not permitted: ")
    assert str(source / "z") in error  # names the folder, not a temporary name
    assert ".agsekit-restore" not in error
    undo = proc.stderr.split("To go back to the state before it:\n", 1)[1].split("\n")[0]
    undo_args = undo.split()[1:]
    assert undo_args == undo_command(proc.stdout)  # the same undo as announced at the start
    back = run_cli(*undo_args)
    assert back.returncode == 0, back.stderr
    assert describe_tree(source) == before


def test_a_bad_path_is_refused_before_anything_is_done(
    project: Path, dest: Path, snap: Snap, env: dict[str, str], tmp_path: Path
) -> None:
    old = snap().name
    assert old is not None
    for name in ("my notes.txt", "data.bin"):
        (project / name).unlink()  # a change: a safety snapshot would be taken ...
    names = snapshots_in(dest)
    missing = restore(dest, old, "no such file")
    assert missing.returncode == 2 and "is not in snapshot" in missing.stderr
    write(project / "new.txt", "added after the snapshot\n")
    history = run_cli(
        "backup-history", "new.txt", "--dest-dir", dest, "--restore", old, cwd=project, env=env
    )
    assert history.returncode != 0
    assert snapshots_in(dest) == names  # ... but nothing was taken, nothing pinned
    assert "MASS DELETION" not in missing.stderr + history.stderr
    assert not (tmp_path / "notified").exists()


def test_folders_the_owner_cannot_write_or_read(project: Path, dest: Path, snap: Snap) -> None:
    old = snap().name
    assert old is not None
    write(project / "docs" / "read only.md", "edited\n")
    (project / "docs").chmod(0o555)
    (project / "src" / "deep").chmod(0o000)
    try:
        dry = restore(dest, old, "--delete", "--dry-run", as_owner=True)
        assert dry.returncode == 0, dry.stderr
        assert "src/deep" in dry.stdout and "could not be read" in dry.stdout
        one = restore(dest, old, "docs/read only.md", as_owner=True)
        assert one.returncode == 0, one.stderr
        assert (project / "docs" / "read only.md").read_text() == "# docs\n"
        assert oct((project / "docs").stat().st_mode & 0o777) == oct(0o555)  # given back
        proc = restore(dest, old, "--delete", as_owner=True)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert oct((project / "docs").stat().st_mode & 0o777) == oct(0o755)  # the snapshot's
        # unreadable is not deleted
        once = run_cli("backup-once", "--source-dir", project, "--dest-dir", dest, as_owner=True)
        assert once.returncode == 23 and "MASS DELETION" not in once.stderr
        gone = run_cli("backup-deleted", "--dest-dir", dest, "--json", as_owner=True)
        assert "util.py" not in gone.stdout
    finally:
        (project / "docs").chmod(0o755)
        (project / "src" / "deep").chmod(0o755)


def moved_project(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A project with one snapshot, moved to another folder, and a.txt deleted there:
    (its old place, its new place, its snapshot folder)."""
    old_home = tmp_path / "old" / "proj"
    write(old_home / "a.txt", "a\n")
    write(old_home / "sub" / "b.txt", "b\n")
    dest = tmp_path / "backups-proj"
    assert run_cli("backup-once", "--source-dir", old_home, "--dest-dir", dest).returncode == 0
    new_home = tmp_path / "new" / "proj"
    new_home.parent.mkdir()
    os.rename(old_home, new_home)
    (new_home / "a.txt").unlink()
    return old_home, new_home, dest


def test_a_moved_project_is_restored_where_it_is_now(tmp_path: Path) -> None:
    old_home, new_home, dest = moved_project(tmp_path)
    config = write(
        tmp_path / "config.yaml",
        f"vms: {{vm1: {{}}}}\nmounts:\n  - source: {new_home}\n    backup: {dest}\n",
    )
    deleted = run_cli("backup-deleted", "--mount", new_home, "--config", config, "--json")
    assert deleted.returncode == 0, deleted.stderr
    assert [item["path"] for item in json.loads(deleted.stdout)] == ["a.txt"]
    assert "no longer exists" in deleted.stderr and "backup-repoint" in deleted.stderr
    proc = run_cli("backup-restore", "--mount", new_home, "--config", config,
                   "--snapshot", "latest", "--in-place")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (new_home / "a.txt").read_text() == "a\n"
    assert not old_home.exists()
    # the engine takes the new place over, since the old one is gone
    taken = run_cli("backup-once", "--source-dir", new_home, "--dest-dir", dest)
    assert taken.returncode == 0, taken.stderr
    assert str(new_home) in (dest / ".agsekit" / "store.json").read_text()


def test_a_moved_project_is_diffed_where_it_is_now(tmp_path: Path) -> None:
    _, new_home, dest = moved_project(tmp_path)
    write(new_home / "c.txt", "c\n")
    config = write(
        tmp_path / "config.yaml",
        f"vms: {{vm1: {{}}}}\nmounts:\n  - source: {new_home}\n    backup: {dest}\n",
    )
    diff = run_cli("backup-diff", "--mount", new_home, "--config", config, "--json")
    assert diff.returncode == 0, diff.stderr
    report = json.loads(diff.stdout)
    assert [(c["status"], c["path"]) for c in report["changes"]] == [("D", "a.txt"), ("A", "c.txt")]
    assert "no longer exists" in diff.stderr and "backup-repoint" in diff.stderr
    text = run_cli("backup-diff", "--mount", new_home, "--config", config)
    assert text.stdout.endswith("-> live: 1 added, 0 modified, 1 deleted, 0 renamed\n")


def test_a_store_of_another_folder_is_refused_and_can_be_repointed(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    write(first / "x", "1")
    write(second / "y", "2")
    dest = tmp_path / "store"
    assert run_cli("backup-once", "--source-dir", first, "--dest-dir", dest).returncode == 0
    other = run_cli("backup-once", "--source-dir", second, "--dest-dir", dest)
    assert other.returncode == 2
    assert f"holds the snapshots of {first}" in other.stderr and "backup-repoint" in other.stderr
    assert len(snapshots_in(dest)) == 1
    moved = run_cli("backup-repoint", "--dest-dir", dest, "--source-dir", second)
    assert moved.returncode == 0, moved.stderr
    assert run_cli("backup-once", "--source-dir", second, "--dest-dir", dest).returncode == 0


def test_a_damaged_store_json_is_refused(project: Path, dest: Path, snap: Snap) -> None:
    snap()
    for damaged in ('{"source": ""}', '{"source": "relative/path"}', "not json"):
        (dest / ".agsekit" / "store.json").write_text(damaged)
        proc = restore(dest, "latest", "--dry-run")
        assert proc.returncode == 1 and "store.json is damaged" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_manifest_path_that_climbs_out_is_never_followed(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    name = snap().name
    assert name is not None
    outside = write(tmp_path / ".bashrc", "the user's own\n")
    path = dest / ".agsekit" / "manifests" / f"{name}.manifest"
    doc = manifest_as_rows(path)
    entries: list[list[object]] = doc["entries"]  # type: ignore[assignment]
    row = next(r for r in entries if r[0] == "my notes.txt")
    entries.append(["../.bashrc", *row[1:]])
    write_manifest_rows(path, doc)
    write(project / "my notes.txt", "changed\n")
    proc = restore(dest, name, "--delete")
    assert proc.returncode == 0, proc.stderr
    assert outside.read_text() == "the user's own\n"
    assert (project / "my notes.txt").read_text() == "remember the milk\n"


def test_lost_in_brings_back_everything_an_alarm_found_lost(
    project: Path, dest: Path, env: dict[str, str]
) -> None:
    for index in range(10):
        write(project / "work" / f"{index}.txt", f"{index}\n")
    run = ("backup-once", "--source-dir", project, "--dest-dir", dest)
    assert run_cli(*run, env=env).returncode == 0
    for index in range(4):  # 40%: no alarm yet
        (project / "work" / f"{index}.txt").unlink()
    write(project / "work" / "5.txt", "5, edited before it was lost\n")
    assert "MASS DELETION" not in run_cli(*run, env=env).stderr
    for index in range(4, 10):
        (project / "work" / f"{index}.txt").unlink()
    proc = run_cli(*run, env=env)
    assert "MASS DELETION" in proc.stderr
    command = next(
        line.split("Bring it all back:", 1)[1].split()
        for line in proc.stderr.splitlines()
        if "Bring it all back:" in line
    )
    back = run_cli(*command[1:], env=env)
    assert back.returncode == 0, back.stderr
    assert sorted(p.name for p in (project / "work").iterdir()) == [f"{i}.txt" for i in range(10)]
    assert (project / "work" / "5.txt").read_text() == "5, edited before it was lost\n"


def test_a_long_restore_holds_the_lock_so_no_snapshot_sees_it_half_done(
    tmp_path: Path,
) -> None:
    source = tmp_path / "big"
    block = os.urandom(1 << 20)
    for index in range(60):
        write(source / f"f{index:02}.bin", block * 8)
    dest = tmp_path / "dest"
    assert run_cli("backup-once", "--source-dir", source, "--dest-dir", dest).returncode == 0
    old = snapshots_in(dest)[0]
    whole = describe_tree(source)
    for index in range(1, 60):
        (source / f"f{index:02}.bin").unlink()
    write(source / "f00.bin", "overwritten by the restore\n")
    write(source / "new.txt", "n\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agsekit", "backup-restore", "--dest-dir", str(dest),
         "--snapshot", old, "--in-place"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed under the lock, before anything is restored
    assert "Saved the state before the restore" in line, line
    once = run_cli("backup-once", "--source-dir", source, "--dest-dir", dest)
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert once.returncode == 0, once.stderr
    assert "waiting for another agsekit process" in once.stdout
    latest = dest / snapshots_in(dest)[-1]
    expected = {**whole, b"new.txt": describe_tree(source)[b"new.txt"]}
    assert describe_tree(latest) == expected
    assert Store(dest).partial_names() == []
