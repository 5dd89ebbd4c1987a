"""daemon install / uninstall / start / stop / restart / status against fake systemctl,
loginctl and launchctl first on PATH (the machine's own service manager is never used)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.helpers import ROOT, run_cli, write


def calls(env: dict[str, str]) -> list[str]:
    path = Path(env["AGSEKIT_FAKE_SERVICE_LOG"])
    return path.read_text().splitlines() if path.exists() else []


def unit_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "systemd" / "user" / "agsekit.service"


def this_agsekit() -> str:
    script = Path(sys.executable).parent / "agsekit"
    return str(script) if script.exists() else f"{sys.executable} -m agsekit"


def test_install_writes_the_unit_starts_it_and_offers_linger(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    config = write(tmp_path / "my config.yaml", "vms: {a: {}}\n")
    result = run_cli("daemon", "install", "--yes", "--config", config, env=service_env)
    assert result.returncode == 0, result.stderr
    text = unit_file(service_env).read_text()
    assert f'--config "{config}"' in text
    assert "Restart=on-failure" in text
    assert f"wrote {unit_file(service_env)}" in result.stdout
    assert "agsekit.service: enabled, active" in result.stdout
    user = os.environ.get("USER") or "root"
    assert any(line.startswith("enabled lingering (loginctl enable-linger ") for line in
               result.stdout.splitlines())  # fmt: skip
    assert calls(service_env)[1:4] == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now agsekit.service",
        "systemctl --user is-active agsekit.service",
    ]
    assert any(c.startswith("loginctl enable-linger") for c in calls(service_env)), user
    again = run_cli("daemon", "install", "--config", config, env=service_env)
    assert "is up to date" in again.stdout
    assert "lingering is on" in again.stdout


def test_install_from_another_agsekit_rewrites_the_unit(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    unit = write(
        unit_file(service_env),
        "[Service]\nExecStart=/old/venv/bin/agsekit daemon run --config /c.yaml\n",
    )
    status = run_cli("daemon", "status", env=service_env)
    assert "the unit starts another agsekit (/old/venv/bin/agsekit daemon run" in status.stdout
    result = run_cli("daemon", "install", "--no-linger", "--config", "/c.yaml", env=service_env)
    assert result.returncode == 0, result.stderr
    assert "rewrote" in result.stdout
    assert "(it started: /old/venv/bin/agsekit daemon run --config /c.yaml)" in result.stdout
    assert unit.read_text().count(this_agsekit().split()[0]) == 1
    assert "lingering not enabled" in result.stdout
    assert "another agsekit" not in run_cli("daemon", "status", env=service_env).stdout


def test_start_stop_restart_uninstall(tmp_path: Path, service_env: dict[str, str]) -> None:
    not_yet = run_cli("daemon", "start", env=service_env)
    assert not_yet.returncode == 1
    assert "agsekit daemon install" in not_yet.stderr
    assert run_cli("daemon", "install", "--no-linger", env=service_env).returncode == 0
    stopped = run_cli("daemon", "stop", env=service_env)
    assert "stop: the service is now inactive" in stopped.stdout
    assert (
        "restart: the service is now active" in run_cli("daemon", "restart", env=service_env).stdout
    )
    status = run_cli("daemon", "status", env=service_env)
    assert "service: starting; installed (systemd:" in status.stdout  # active, not yet running
    removed = run_cli("daemon", "uninstall", env=service_env)
    assert "stopped the service and removed" in removed.stdout
    assert not unit_file(service_env).exists()
    assert "systemctl --user disable --now agsekit.service" in calls(service_env)


def test_without_a_user_manager_install_says_what_to_do(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    write(Path(service_env["AGSEKIT_FAKE_SERVICE_STATE"]) / "no-bus", "")
    result = run_cli("daemon", "install", env=service_env)
    assert result.returncode == 1
    assert "no systemd user manager answers (Failed to connect to bus" in result.stderr
    assert "agsekit daemon run" in result.stderr
    assert not unit_file(service_env).exists()


def test_launchd_install_writes_the_agent_and_bootstraps_it(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    env = {**service_env, "AGSEKIT_SERVICE_MANAGER": "launchd"}
    result = run_cli("daemon", "install", "--config", "/c.yaml", env=env)
    assert result.returncode == 0, result.stderr
    plist = Path(env["HOME"]) / "Library" / "LaunchAgents" / "io.github.agsekit.daemon.plist"
    assert "<string>daemon</string>" in plist.read_text()
    uid = os.getuid()
    assert f"launchctl bootstrap gui/{uid} {plist}" in calls(env)
    status = run_cli("daemon", "status", "--json", env=env)
    assert '"manager_state": "running"' in status.stdout
    assert run_cli("daemon", "uninstall", env=env).returncode == 0
    assert f"launchctl bootout gui/{uid}/io.github.agsekit.daemon" in calls(env)
    assert not plist.exists()


def test_daemon_help_lists_every_verb() -> None:
    result = run_cli("daemon", "--help", cwd=ROOT)
    for verb in ("install", "uninstall", "start", "stop", "restart", "status", "logs", "run"):
        assert f"  {verb}" in result.stdout
