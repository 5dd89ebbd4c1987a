"""`agsekit daemon run` as a process, with real inotify on real folders (issue 9)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import run_cli, write
from tests.service.conftest import FAST, Project, Service, mount_config, settle

StartService = Callable[[Path], Service]


def started_at(project: Project, name: str) -> float:
    stats = json.loads((project.backups / ".agsekit" / "manifests" / f"{name}.json").read_text())
    return datetime.fromisoformat(stats["started"]).timestamp()


def quiet_for(seconds: float) -> None:
    time.sleep(seconds)


def test_first_check_runs_at_once_and_a_change_gives_one_snapshot_after_the_debounce(
    project: Project, start_service: StartService
) -> None:
    service = start_service(project.config)
    settle(project, 1, service)  # the catch-up check at start
    service.wait(lambda: service.mount().get("mode") == "watching", why="watching")
    written = time.time()
    write(project.root / "src" / "new.py", "x = 1\n")
    settle(project, 2, service)
    quiet_for(1.0)  # more than three debounces: no second snapshot for one change
    names = project.snapshots()
    assert len(names) == 2
    assert started_at(project, names[1]) >= written + 0.3 - 0.05
    assert (project.backups / names[1] / "src" / "new.py").read_text() == "x = 1\n"
    assert service.stop() == 143
    assert "snapshot " + names[1] + " (change)" in service.log()


def test_a_burst_gives_one_snapshot(project: Project, start_service: StartService) -> None:
    service = start_service(project.config)
    settle(project, 1, service)
    service.wait(lambda: service.mount().get("mode") == "watching", why="watching")
    for index in range(200):  # about 1 s, never quiet for a debounce
        write(project.root / "burst" / f"{index // 20}" / f"{index}.txt", f"{index}\n")
        time.sleep(0.005)
    settle(project, 2, service)
    quiet_for(1.0)
    names = project.snapshots()
    assert len(names) == 2
    assert len(list((project.backups / names[1] / "burst").rglob("*.txt"))) == 200


def test_ignored_paths_start_no_snapshot_but_an_ignore_file_does(
    tmp_path: Path, project: Project, start_service: StartService
) -> None:
    text = mount_config(project.root, project.backups, mount_extra="    exclude: [build/]\n")
    project.config.write_text(text)
    write(project.root / "build" / "keep.txt", "built\n")
    service = start_service(project.config)
    settle(project, 1, service)
    service.wait(lambda: service.mount().get("mode") == "watching", why="watching")
    write(project.root / "debug.log", "noise\n")  # .backupignore: *.log
    write(project.root / "build" / "out.o", "object\n")  # the config's exclude
    write(project.root / "build" / "deep" / "x.o", "object\n")
    quiet_for(1.5)
    assert len(project.snapshots()) == 1
    assert service.mount().get("pending_changes", 0) == 0
    write(project.root / ".backupignore", "*.log\n!debug.log\n")  # now debug.log counts
    settle(project, 2, service)
    latest = project.backups / project.snapshots()[-1]
    assert (latest / "debug.log").read_text() == "noise\n"
    assert not (latest / "build").exists()


def test_a_config_edit_is_picked_up(
    tmp_path: Path, project: Project, start_service: StartService
) -> None:
    service = start_service(project.config)
    settle(project, 1, service)
    other = tmp_path / "other"
    write(other / "notes.md", "notes\n")
    other_backups = tmp_path / "backups-other"
    text = mount_config(project.root, project.backups) + (
        f"  - source: {other}\n    backup: {other_backups}\n    interval: 60\n"
    )
    project.config.write_text(text)
    service.wait(lambda: other_backups.is_dir() and any(other_backups.glob("2*")), why="other")
    service.wait(lambda: len(service.status()["mounts"]) == 2, why="two mounts in the status")
    assert "config reloaded: 2 mount(s)" in service.log()
    write(other / "more.md", "more\n")
    service.wait(lambda: len(list(other_backups.glob("2*"))) == 2, why="a change in the new mount")


def test_a_broken_config_keeps_the_old_one_and_is_reported(
    project: Project, start_service: StartService, service_env: dict[str, str]
) -> None:
    service = start_service(project.config)
    settle(project, 1, service)
    good = project.config.read_text()
    project.config.write_text(good.replace("interval: 60", "interval: 0"))
    service.wait(lambda: service.status().get("config_error"), why="the config error")
    error = service.status()["config_error"]
    assert error["problems"] == ["config.yaml:8: mounts[0].interval: input should be greater "
                                 "than 0 (got 0)"]  # fmt: skip
    shown = run_cli("daemon", "status", env=service_env)
    assert shown.returncode == 0, shown.stderr
    assert "CONFIG ERROR" in shown.stdout
    assert "mounts[0].interval: input should be greater than 0" in shown.stdout
    assert "keeps running with the last config that loaded" in shown.stdout
    write(project.root / "still.txt", "protected\n")  # the old config still works
    settle(project, 2, service)
    project.config.write_text(good)
    service.wait(lambda: service.status().get("config_error") is None, why="the fix")
    assert "the config loads again" in service.log()


def test_sigterm_during_a_snapshot_leaves_no_partial_and_no_child(
    tmp_path: Path, project: Project, start_service: StartService
) -> None:
    big = bytes(256 * 1024)
    for index in range(400):  # 100 MiB: the first snapshot takes a while
        write(project.root / "data" / f"{index // 50}" / f"{index}.bin", big + bytes([index % 256]))
    service = start_service(project.config)
    service.wait(
        lambda: project.backups.is_dir() and any(project.backups.glob("*-partial")),
        why="a snapshot in progress",
    )
    assert service.stop() == 143
    assert list(project.backups.glob("*-partial")) == []
    assert "service stopped" in service.log()
    needle = os.fsencode(project.root)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert needle not in cmdline.read_bytes(), f"a child outlived the service: {cmdline}"
        except OSError:
            continue


def test_a_watch_budget_too_small_falls_back_to_polling_and_says_so(
    tmp_path: Path, project: Project, start_service: StartService, service_env: dict[str, str]
) -> None:
    for name in ("a", "b", "c", "d"):
        (project.root / name).mkdir()
    project.config.write_text(
        mount_config(project.root, project.backups, extra=FAST + "watch_budget: 2\n", interval=0.02)
    )
    service = start_service(project.config)
    service.wait(lambda: service.mount().get("mode") == "polling", why="polling")
    mount = service.mount()
    assert "it needs 6" in mount["reason"] and "budget 2" in mount["reason"]
    assert mount["fix"] == "raise watch_budget in the config (the service reloads it)"
    assert "POLLING" in service.log()
    shown = run_cli("daemon", "status", env=service_env).stdout
    assert "POLLING: the tree needs more inotify watches" in shown
    assert "fix: raise watch_budget" in shown
    settle(project, 1, service)
    write(project.root / "a" / "polled.txt", "found by the interval check\n")
    settle(project, 2, service)  # the interval is 1.2 s here


QUEUE = Path("/proc/sys/fs/inotify/max_queued_events")


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.access(QUEUE, os.W_OK),
    reason="shrinking fs.inotify.max_queued_events needs root",
)
def test_a_queue_overflow_leads_to_a_full_check_that_takes_the_hidden_change(
    project: Project, start_service: StartService
) -> None:
    original = QUEUE.read_text().strip()
    QUEUE.write_text("16\n")  # read when an inotify instance is made: only the service's
    try:
        service = start_service(project.config)
        service.wait(lambda: service.mount().get("mode") == "watching", why="watching")
    finally:
        QUEUE.write_text(original + "\n")
    settle(project, 1, service)
    for index in range(500):  # far more than 16 events before the service reads any
        write(project.root / "flood" / f"{index}.txt", f"{index}\n")
    hidden = project.root / "made-during-the-overflow"
    hidden.mkdir()  # its creation event is among the lost ones
    for index in range(1500):
        write(hidden / f"{index}.txt", f"{index}\n")
    service.wait(lambda: service.mount().get("overflows", 0) >= 1, why="an overflow")

    def latest_holds_everything() -> bool:
        names = project.snapshots()
        return len(names) > 1 and len(list((project.backups / names[-1]).rglob("*.txt"))) == 2000

    service.wait(latest_holds_everything, why="a snapshot with every file")
    assert "the event queue overflowed (events were lost): a full check follows" in service.log()
    count = len(project.snapshots())
    write(hidden / "later.txt", "seen: the folder is watched again\n")  # the re-watch covers it
    settle(project, count + 1, service)
    assert (project.backups / project.snapshots()[-1] / hidden.name / "later.txt").exists()


def test_daemon_logs_show_the_service_log(
    project: Project, start_service: StartService, service_env: dict[str, str]
) -> None:
    empty = run_cli("daemon", "logs", env=service_env)
    assert "no log yet" in empty.stderr
    service = start_service(project.config)
    settle(project, 1, service)
    assert service.stop() == 143
    shown = run_cli("daemon", "logs", "-n", "3", env=service_env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == 3
    assert lines[-1].endswith("service stopped")
    assert "snapshot " in run_cli("daemon", "logs", env=service_env).stdout


def test_the_snapshot_after_an_in_place_restore_measures_from_the_restored_state(
    project: Project, start_service: StartService
) -> None:
    """The user brings back an older snapshot with --delete (removing what was added since):
    the service's next snapshot holds exactly the restored state, and the alarm measures
    from it (the restore acknowledged it), not from the safety snapshot taken just
    before, so no mass deletion is announced and nothing more is pinned."""
    service = start_service(project.config)
    settle(project, 1, service)
    service.wait(lambda: service.mount().get("mode") == "watching", why="watching")
    good = project.snapshots()[0]
    for index in range(40):
        write(project.root / "added" / f"{index}.txt", f"added {index}\n")
    settle(project, 2, service)
    restore = run_cli(
        "backup-restore", "--dest-dir", project.backups, "--snapshot", good, "--in-place",
        "--delete", env=service.env,
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    settle(project, 3, service)
    assert not (project.backups / project.snapshots()[-1] / "added").exists()
    assert service.stop() == 143
    assert "MASS DELETION" not in service.log()
    pins = json.loads((project.backups / ".agsekit" / "labels.json").read_text())["snapshots"]
    assert [mark["kind"] for mark in pins.values() if mark["pinned"]] == ["undo"]
