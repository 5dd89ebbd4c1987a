"""`agsekit net log`: the egress log of one VM or all, --denied, --json, -f, and hosts
that hold control characters shown escaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from agsekit.network.egresslog import EgressLog, egress_dir
from tests.helpers import run_cli


def write(state: Path, vm: str, agent: str, host: str, allowed: bool) -> None:
    folder = egress_dir({"XDG_STATE_HOME": str(state)})
    EgressLog(folder / f"{vm}.log", vm, agent).record(host, 443, allowed, "why")


def test_the_log_of_all_vms_one_vm_and_only_the_denied(tmp_path: Path) -> None:
    write(tmp_path, "a", "claude", "api.anthropic.com", True)
    write(tmp_path, "b", "codex", "evil.test\x1b[2J", False)
    env = {"XDG_STATE_HOME": str(tmp_path)}
    lines = run_cli("net", "log", env=env, timeout=60).stdout.splitlines()
    assert [line.split("  ")[1:] for line in lines] == [
        ["allowed", "a", "claude", "api.anthropic.com:443", "why"],
        ["denied", "b", "codex", '"evil.test\\033[2J:443"', "why"],
    ]
    assert "\x1b" not in "".join(lines)
    only_a = run_cli("net", "log", "a", env=env, timeout=60).stdout.splitlines()
    assert len(only_a) == 1 and "api.anthropic.com" in only_a[0]
    denied = run_cli("net", "log", "--denied", "--json", env=env, timeout=60).stdout
    [entry] = [json.loads(line) for line in denied.splitlines()]
    assert (entry["vm"], entry["host"], entry["allowed"]) == ("b", "evil.test\x1b[2J", False)
    assert "\x1b" not in denied


def test_a_vm_name_that_is_not_one_is_refused(tmp_path: Path) -> None:
    proc = run_cli("net", "log", "../a", env={"XDG_STATE_HOME": str(tmp_path)}, timeout=60)
    assert proc.returncode != 0
    assert "not a valid VM name" in proc.stderr


def test_follow_prints_new_denials(tmp_path: Path) -> None:
    write(tmp_path, "a", "claude", "old.test", False)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "agsekit", "net", "log", "a", "--denied", "-f"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        try:
            assert "old.test" in proc.stdout.readline()
            time.sleep(0.5)  # it is following now
            write(tmp_path, "a", "claude", "allowed.test", True)
            write(tmp_path, "a", "claude", "new.test", False)
            assert "new.test" in proc.stdout.readline()
        finally:
            proc.terminate()
