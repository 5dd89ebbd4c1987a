"""Units and plists as pure text: compared whole, checked by systemd-analyze and plutil."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from agsekit.service import units

COMMAND = ["/opt/agsekit env/bin/agsekit", "daemon", "run", "--config", "/home/me/50%/c.yaml"]
EXPECTED_UNIT = """\
# Written by `agsekit daemon install`; `agsekit daemon uninstall` removes it.
[Unit]
Description=agsekit: snapshots of the configured project folders on every change

[Service]
Type=simple
ExecStart="/opt/agsekit env/bin/agsekit" daemon run --config /home/me/50%%/c.yaml
Restart=on-failure
RestartSec=10
# a stop (SIGTERM) removes an unfinished snapshot, then exits with 143
SuccessExitStatus=143
KillMode=mixed
TimeoutStopSec=90
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7

[Install]
WantedBy=default.target
"""


def test_systemd_unit_text() -> None:
    assert units.systemd_unit(COMMAND) == EXPECTED_UNIT
    assert units.exec_start_of(EXPECTED_UNIT) == (
        '"/opt/agsekit env/bin/agsekit" daemon run --config /home/me/50%%/c.yaml'
    )


@pytest.mark.parametrize(
    ("word", "written"),
    [
        ("/usr/bin/agsekit", "/usr/bin/agsekit"),
        ("a b", '"a b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("$HOME", "$$HOME"),
        ("100%", "100%%"),
        ("back\\slash", '"back\\\\slash"'),
        ("", '""'),
    ],
)
def test_systemd_words(word: str, written: str) -> None:
    assert units.systemd_word(word) == written


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze "
                    "(Debian package systemd; .ci/run installs it)")  # fmt: skip
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    program = tmp_path / "bin dir" / "agsekit"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    unit = tmp_path / units.UNIT_NAME
    unit.write_text(units.systemd_unit([str(program), "daemon", "run", "--config", "/x 50%"]))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    result = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    problems = [
        line for line in result.stderr.splitlines() if unit.name in line or "Unknown" in line
    ]
    assert result.returncode == 0, result.stderr
    assert problems == [], result.stderr


def test_the_plist_round_trips() -> None:
    text = units.launchd_plist(COMMAND, path_env="/opt/bin:/usr/bin", log_file="/L/daemon.log")
    data = plistlib.loads(text.encode())
    assert data["Label"] == units.LABEL
    assert data["ProgramArguments"] == COMMAND
    assert data["EnvironmentVariables"] == {"PATH": "/opt/bin:/usr/bin"}
    assert data["KeepAlive"] == {"SuccessfulExit": False}
    assert data["RunAtLoad"] is True
    assert data["StandardOutPath"] == data["StandardErrorPath"] == "/L/daemon.log"
    assert units.program_of(text) == COMMAND
    assert "<string>/opt/agsekit env/bin/agsekit</string>" in text


@pytest.mark.skipif(shutil.which("plutil") is None, reason="plutil exists on macOS only")
def test_the_plist_passes_plutil_lint(tmp_path: Path) -> None:
    path = tmp_path / "agent.plist"
    path.write_text(units.launchd_plist(COMMAND, path_env="/usr/bin", log_file="/L/d.log"))
    assert subprocess.run(["plutil", "-lint", str(path)], check=False).returncode == 0
