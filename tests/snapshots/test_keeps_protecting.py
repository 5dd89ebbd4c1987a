"""Loops and signals keep protecting, input is checked and output is safe ("Nothing lost,
part 2", items 21-28; "Nothing lost", items 7 and 9): SIGTERM and SIGHUP stop cleanly, a
loop never dies quietly or depends on its output, a missing source is retried, a broken
config never decides what gets deleted, an emptied source raises the alarm in a loop too,
a failing stdout is one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agsekit.snapshots.engine.store import Store
from tests.helpers import run_cli, snapshots_in, start_cli, write


def big_tree(root: Path, files: int = 40) -> Path:
    block = os.urandom(1 << 20)
    for index in range(files):
        write(root / f"f{index:02}.bin", block * 6)
    return root


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_backup_once_stops_cleanly_on_sigterm_and_sighup(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    source = big_tree(tmp_path / "big")
    dest = tmp_path / "dest"
    proc = start_cli("backup-once", "--source-dir", source, "--dest-dir", dest)
    deadline = time.monotonic() + 60
    while not Store(dest).partial_names() and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert Store(dest).partial_names() == [] and snapshots_in(dest) == []
    again = run_cli("backup-once", "--source-dir", source, "--dest-dir", dest)
    assert again.returncode == 0, again.stderr


def test_a_loop_does_not_depend_on_its_stdout(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    write(source / "a.txt", "a\n")
    dest = tmp_path / "dest"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agsekit", "backup-repeated", "--source-dir", str(source),
         "--dest-dir", str(dest), "--interval", "0.01"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.readline()  # as `| head -1` does ...
    proc.stdout.close()  # ... then the reader goes away
    write(source / "b.txt", "b\n")
    deadline = time.monotonic() + 30
    while len(snapshots_in(dest)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the loop died with its stdout"
    assert len(snapshots_in(dest)) == 2
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "Traceback" not in err
    assert proc.returncode == 130


def test_repeated_all_retries_a_mount_whose_source_is_missing_at_start(tmp_path: Path) -> None:
    present, later = tmp_path / "present", tmp_path / "later"
    write(present / "a.txt", "a\n")
    config = write(
        tmp_path / "config.yaml",
        f"vms: {{vm1: {{}}}}\nmounts:\n  - {{source: {present}, interval: 0.01}}\n"
        f"  - {{source: {later}, interval: 0.01}}\n",
    )
    proc = start_cli("backup-repeated-all", "--config", config)
    try:
        time.sleep(2)
        write(later / "b.txt", "b\n")  # the disk is mounted at last
        deadline = time.monotonic() + 30
        store = tmp_path / "backups-later"
        while not (store.exists() and snapshots_in(store)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert snapshots_in(store), "the missing source was dropped for good"
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err


def test_a_broken_config_never_decides_what_gets_deleted(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    write(source / "a.txt", "a\n")
    dest = tmp_path / "dest"
    for index in range(4):
        write(source / "a.txt", f"version {index}\n")
        assert run_cli("backup-once", "--source-dir", source, "--dest-dir", dest).returncode == 0
    before = snapshots_in(dest)
    home = tmp_path / "xdg"
    write(home / "agsekit" / "config.yaml", "retention: {keep_withn: 3650d}\n")  # a typo
    env = {"XDG_CONFIG_HOME": str(home), "CONFIG_PATH": ""}
    proc = start_cli(
        "backup-repeated", "--source-dir", source, "--dest-dir", dest, "--interval", "0.01",
        env=env,
    )  # fmt: skip
    try:
        write(source / "a.txt", "the newest\n")
        deadline = time.monotonic() + 30
        while len(snapshots_in(dest)) <= len(before) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert set(before) <= set(snapshots_in(dest)), "a guessed policy removed snapshots"
    assert "retention is skipped" in err


def test_a_broken_config_never_changes_the_alarm_policy(tmp_path: Path) -> None:
    """The user's alarm goes off at 20% lost. A typo elsewhere in the config must not put
    the default 50% in its place: a loop then deleting 30% still sounds the alarm (with
    the policy of the last config that loaded), and says both rules it keeps to."""
    source = tmp_path / "proj"
    for index in range(10):
        write(source / f"{index}.txt", f"{index}\n")
    dest = tmp_path / "dest"
    home = tmp_path / "xdg"
    config = write(home / "agsekit" / "config.yaml", "alarm: {deleted_fraction: 0.2}\n")
    env = {"XDG_CONFIG_HOME": str(home), "CONFIG_PATH": ""}
    first = run_cli("backup-once", "--source-dir", source, "--dest-dir", dest, env=env)
    assert first.returncode == 0, first.stderr
    config.write_text("alarm: {deleted_fraction: 0.2}\nretention: {keep_withn: 3650d}\n")
    for index in range(3):
        (source / f"{index}.txt").unlink()
    proc = start_cli(
        "backup-repeated", "--source-dir", source, "--dest-dir", dest, "--interval", "0.01",
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(snapshots_in(dest)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert len(snapshots_in(dest)) == 2, err
    assert "retention is skipped" in err
    assert "the alarm keeps the policy of the last config that loaded" in err
    assert "MASS DELETION: 3 of 10 files" in err


def test_a_loop_raises_the_alarm_when_the_source_is_emptied(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    for index in range(5):
        write(source / f"{index}.txt", f"{index}\n")
    dest = tmp_path / "dest"
    assert run_cli("backup-once", "--source-dir", source, "--dest-dir", dest).returncode == 0
    for entry in source.iterdir():
        entry.unlink()
    bin_dir = tmp_path / "bin"
    notify = write(bin_dir / "notify-send", f'#!/bin/sh\necho "$@" >> "{tmp_path}/notified"\n')
    notify.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "XDG_CONFIG_HOME": str(tmp_path)}
    proc = start_cli(
        "backup-repeated", "--source-dir", source, "--dest-dir", dest, "--interval", "0.01",
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "notified").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)  # several more intervals: the alarm is not repeated at each
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert err.count("MASS DELETION") == 1
    assert (tmp_path / "notified").read_text().count("files deleted") == 1
    assert len(snapshots_in(dest)) == 1


def test_a_failing_stdout_is_one_line_and_the_exit_code_is_the_snapshots(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    write(source / "a.txt", "a\n")
    dest = tmp_path / "dest"
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "agsekit", "backup-once", "--source-dir", str(source),
             "--dest-dir", str(dest)],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    assert proc.returncode == 0
    assert proc.stderr.strip() == "agsekit: error: cannot write output: No space left on device"
    assert len(snapshots_in(dest)) == 1


def _with_closed_stdout(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`agsekit ARGS` writing into a pipe whose reading end is already closed (EPIPE)."""
    read, write_end = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "agsekit", *map(str, args)],
            stdout=write_end, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            check=False, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)


def test_a_closed_stdout_is_one_line_for_one_shot_commands(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    for index in range(50):
        write(source / f"{index:02}.txt", f"{index}\n")
    dest = tmp_path / "dest"
    once = _with_closed_stdout("backup-once", "--source-dir", source, "--dest-dir", dest)
    assert once.returncode == 0  # the snapshot's own result
    assert once.stderr == "agsekit: error: cannot write output: Broken pipe\n"
    assert len(snapshots_in(dest)) == 1
    for args in (
        ("backup-list", "--dest-dir", dest),
        ("backup-diff", "--dest-dir", dest, snapshots_in(dest)[0]),
        ("backup-deleted", "--dest-dir", dest, "--json"),
        ("config-example",),
        ("--help",),
    ):
        proc = _with_closed_stdout(*args)
        assert proc.returncode == 1, args
        assert proc.stderr == "agsekit: error: cannot write output: Broken pipe\n", args


def test_the_rules_that_leave_nothing_are_named(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    write(source / "a.txt", "a\n")
    dest = tmp_path / "dest"
    assert run_cli("backup-once", "--source-dir", source, "--dest-dir", dest).returncode == 0
    proc = run_cli("backup-once", "--source-dir", source, "--dest-dir", dest, "--exclude", "*")
    assert proc.returncode == 3
    assert "left out by the ignore rules" in proc.stderr and "`*` (--exclude" in proc.stderr
    assert "unmounted" not in proc.stderr


def test_debug_shows_the_commands_agsekit_runs(tmp_path: Path) -> None:
    source = tmp_path / "proj"
    write(source / "a.txt", "a\n")
    proc = run_cli("--debug", "backup-once", "--source-dir", source, "--dest-dir", tmp_path / "d")
    assert proc.returncode == 0, proc.stderr
    assert "debug: $ " in proc.stderr and "find" in proc.stderr


def test_debug_shows_tracebacks_instead_of_one_line_errors(tmp_path: Path) -> None:
    """What `agsekit --help` promises for --debug: the traceback of an error, where
    without it the error is one line."""
    missing = tmp_path / "no store here"
    plain = run_cli("backup-list", "--dest-dir", missing)
    assert plain.returncode == 2
    assert plain.stderr == f"agsekit: error: there is no snapshot folder at {missing}\n"
    debug = run_cli("--debug", "backup-list", "--dest-dir", missing)
    assert debug.returncode != 0
    assert debug.stderr.startswith("Traceback (most recent call last):\n")
    assert debug.stderr.endswith(
        f"agsekit.core.errors.UsageError: there is no snapshot folder at {missing}\n"
    )
    assert "Show Python tracebacks instead of one-line errors" in run_cli("--help").stdout


def test_paths_are_taken_as_the_user_wrote_them(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    write(project / "src" / "main.py", "print(1)\n")
    dest = tmp_path / "dest"
    assert run_cli("backup-once", "--source-dir", project, "--dest-dir", dest).returncode == 0
    link = tmp_path / "link-to-proj"
    os.symlink(project, link)
    for spelling, cwd in (
        (f"{link}/src/main.py", tmp_path),
        ("../src/main.py", project / "src"),
        (f"{project}/src/../src/main.py", tmp_path),
    ):
        proc = run_cli("backup-history", spelling, "--dest-dir", dest, "--json", cwd=cwd)
        assert proc.returncode == 0, (spelling, proc.stderr)
        assert json.loads(proc.stdout)["path"] == "src/main.py"
