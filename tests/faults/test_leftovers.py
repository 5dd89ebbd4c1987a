"""What a SIGKILL at one chosen moment leaves, and that the next command clears it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from agsekit.snapshots.engine.store import Store
from tests.faults.harness import agsekit_argv, wait_until_group_gone
from tests.helpers import run_cli, write

RESTORE_TEMP = ".agsekit-restore-"


def _temporaries(root: Path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, dirs, files in os.walk(root)
        for name in dirs + files
        if name.startswith(RESTORE_TEMP)
    )


def test_a_restore_clears_what_a_killed_restore_left_under_temporary_names(
    tmp_path: Path,
) -> None:
    live, dest = tmp_path / "project", tmp_path / "dest"
    write(live / "notes.txt", "the snapshot's notes\n")
    big = write(live / "data" / "big.bin", os.urandom(1 << 20) * 160)
    assert run_cli("backup-once", "--source-dir", live, "--dest-dir", dest).returncode == 0
    name = Store(dest).latest()
    assert name is not None
    big.unlink()
    write(live / "notes.txt", "edited since\n")
    # killed while it copies the big file back: its temporary file stays in data/
    proc = subprocess.Popen(
        agsekit_argv("backup-restore", "--dest-dir", dest, "--snapshot", name, "--in-place"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not _temporaries(live / "data") and time.monotonic() < deadline:
        time.sleep(0.001)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_until_group_gone(proc.pid)
    left = _temporaries(live)
    assert left, "the kill did not land during the copy"
    again = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", name, "--in-place")
    assert again.returncode == 0, again.stderr
    assert _temporaries(live) == [], again.stdout
    assert RESTORE_TEMP not in again.stdout  # not listed as a file "kept"
    assert (live / "data" / "big.bin").read_bytes() == (
        dest / name / "data" / "big.bin"
    ).read_bytes()
    # and no snapshot took the half-copied file in (so no undo can bring it back)
    for snapshot in Store(dest).snapshot_names():
        assert _temporaries(dest / snapshot) == [], snapshot


def test_a_snapshot_killed_after_its_manifest_leaves_no_manifest_behind(tmp_path: Path) -> None:
    """Killed between writing its manifest and the rename (while the data is flushed):
    the next run removes the `-partial` folder and the manifest files written for it."""
    src, dest = tmp_path / "src", tmp_path / "dest"
    write(src / "a.txt", "a\n")
    assert run_cli("backup-once", "--source-dir", src, "--dest-dir", dest).returncode == 0
    store = Store(dest)
    first = store.latest()
    assert first is not None
    # exactly what such a kill leaves: the partial folder, its manifest and its stats
    killed = "20991231T235959Z"
    shutil.copytree(dest / first, dest / f"{killed}-partial")
    for suffix in (".manifest", ".json"):
        shutil.copyfile(
            store.state / "manifests" / f"{first}{suffix}",
            store.state / "manifests" / f"{killed}{suffix}",
        )
    write(src / "b.txt", "b\n")
    again = run_cli("backup-once", "--source-dir", src, "--dest-dir", dest)
    assert again.returncode == 0, again.stderr
    assert "interrupted run" in again.stdout
    assert store.partial_names() == []
    names = set(store.snapshot_names())
    for entry in os.listdir(store.state / "manifests"):
        assert entry.rpartition(".")[0] in names, f"{entry} belongs to no snapshot"


def _two_snapshots(tmp_path: Path) -> tuple[Path, Path, Store, list[str]]:
    src, dest = tmp_path / "src", tmp_path / "dest"
    for text in ("one", "two"):
        write(src / "a.txt", f"{text}\n")
        assert run_cli("backup-once", "--source-dir", src, "--dest-dir", dest).returncode == 0
    store = Store(dest)
    return dest, write(tmp_path / "config.yaml", RETENTION), store, store.snapshot_names()


RETENTION = (
    "retention:\n  keep_within: 0m\n  keep_hourly: 0\n  keep_daily: 0\n"
    "  keep_weekly: 0\n  keep_monthly: 0\n"
)


def test_backup_clean_sweeps_what_a_killed_write_of_the_labels_left(tmp_path: Path) -> None:
    """backup-clean rewrites labels.json when it removes a labelled snapshot; killed
    during that write it leaves .agsekit/.tmp-labels.json.XXXXXXXX, which the next
    backup-clean (holding the store's lock) must remove."""
    dest, config, store, names = _two_snapshots(tmp_path)
    label = run_cli("backup-pin", names[0], "--dest-dir", dest, "--label", "old")
    assert label.returncode == 0, label.stderr
    assert run_cli("backup-unpin", names[0], "--dest-dir", dest).returncode == 0
    left = write(store.state / ".tmp-labels.json.k1ll3d00", '{"format": ')
    clean = run_cli("backup-clean", "--dest-dir", dest, "--config", config)
    assert clean.returncode == 0, clean.stderr
    assert store.snapshot_names() == names[1:]
    assert not left.exists()


def test_a_removal_killed_after_its_rename_leaves_no_manifest_behind(tmp_path: Path) -> None:
    """remove_snapshot renames the snapshot into the trash, then removes its manifest
    files: killed in between, the next command empties the trash and removes them."""
    dest, config, store, names = _two_snapshots(tmp_path)
    os.rename(dest / names[0], store.state / "trash" / f"{names[0]}.4242.0badcafe")
    clean = run_cli("backup-clean", "--dest-dir", dest, "--config", config)
    assert clean.returncode == 0, clean.stderr
    assert os.listdir(store.state / "trash") == []
    for suffix in (".manifest", ".json"):
        assert not (store.state / "manifests" / f"{names[0]}{suffix}").exists()
    assert (store.state / "manifests" / f"{names[1]}.manifest").exists()
