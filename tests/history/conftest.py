"""Projects with awkward names, made into stores by the real engine."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine.snapshot import SnapshotOutcome, SnapshotRequest, take_snapshot
from tests.helpers import write

NON_UTF8 = b"caf\xe9 menu.txt"
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def make_project(root: Path) -> Path:
    write(root / "my notes.txt", "remember the milk\n")
    write(root / "src" / "main.py", "print('hi')\n").chmod(0o755)
    write(root / "src" / "deep" / "util.py", "x = 1\n")
    write(root / "docs" / "read only.md", "# docs\n").chmod(0o444)
    write(root / "data.bin", bytes(range(256)) * 8)
    with open(os.fsencode(root) + b"/" + NON_UTF8, "wb") as fh:
        fh.write(b"soup\n")
    (root / "empty dir").mkdir()
    os.symlink("my notes.txt", root / "link to notes")
    os.symlink("../../outside/secret", root / "src" / "escape")
    write(root / ".backupignore", "*.log\n")
    write(root / "debug.log", "ignored\n")
    # times that differ from "now", so that a restore that forgets them shows
    for index, path in enumerate(sorted(root.rglob("*"))):
        moment = 1_700_000_000_000_000_000 + index * 1_000_000_007
        os.utime(path, ns=(moment, moment), follow_symlinks=False)
    return root


def times_of(root: Path) -> dict[bytes, int]:
    """mtime of every file and link (folders change when anything is written in them)."""
    base = os.fsencode(root)
    out = {}
    for folder, _dirs, files in os.walk(base):
        for name in files:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, base)] = os.lstat(path).st_mtime_ns
    return out


def modes_of_dirs(root: Path) -> dict[bytes, int]:
    base = os.fsencode(root)
    return {
        os.path.relpath(folder, base): stat.S_IMODE(os.lstat(folder).st_mode)
        for folder, _d, _f in os.walk(base)
    }


Snap = Callable[..., SnapshotOutcome]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "my project")


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "backups"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Isolated config location and a fake notify-send that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{tmp_path}/notified"\n')
    fake.chmod(0o755)
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CONFIG_PATH": "",
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }


@pytest.fixture
def snap(project: Path, dest: Path) -> Snap:
    """Take a snapshot of the project at a fake time (default: one hour after the last)."""
    state = {"at": START}

    def take(at: datetime | None = None, label: str | None = None) -> SnapshotOutcome:
        moment = at or state["at"]
        state["at"] = moment + timedelta(hours=1)
        request = SnapshotRequest(project, dest, label=label)
        return take_snapshot(request, RecordingReporter(), clock=lambda: moment)

    return take
