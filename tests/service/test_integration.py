"""The service seen from run, status, doctor and down (with the Multipass double)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.agents.conftest import Setup, bare, config_text, multipass, multipass_env, setup
from tests.helpers import start_cli, write
from tests.service.conftest import FAKES, FAST, Service

__all__ = ["Setup", "bare", "multipass", "multipass_env", "setup"]  # the fixtures used here


def _env(setup: Setup, tmp_path: Path) -> dict[str, str]:
    return {
        **setup.env,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "PATH": f"{FAKES}:{setup.env['PATH']}",
        "AGSEKIT_SERVICE_MANAGER": "systemd",
        "AGSEKIT_FAKE_SERVICE_LOG": str(tmp_path / "service-calls"),
        "AGSEKIT_FAKE_SERVICE_STATE": str(tmp_path / "service-state"),
    }


def labels(backups: Path) -> list[str]:
    found = []
    for path in sorted((backups / ".agsekit" / "manifests").glob("*.json")):
        found.append(json.loads(path.read_text()).get("label") or "")
    return found


def test_run_leaves_the_interval_snapshots_to_the_service_and_still_brackets_the_session(
    setup: Setup, tmp_path: Path
) -> None:
    # an interval of 1.2 s: a session loop of its own would take several snapshots below
    setup.config.write_text(
        FAST + config_text(setup.project, setup.backups, setup.vm, interval=0.02)
    )
    env = _env(setup, tmp_path)
    setup.env.update(env)
    service = Service(env, setup.config)
    try:
        service.wait(lambda: service.mount().get("last_snapshot"), why="the first snapshot")
        write(setup.project / "before-the-session.txt", "x\n")
        proc = start_cli("run", "claude", "wait", "s", env=env, cwd=setup.project)
        deadline = time.monotonic() + 60
        while not (setup.evidence / "started-s").exists():
            assert time.monotonic() < deadline, "the agent never started"
            time.sleep(0.05)
        for index in range(6):  # 3 s of work while the agent runs
            write(setup.project / f"during-{index}.txt", f"{index}\n")
            time.sleep(0.5)
        (setup.evidence / "go-s").touch()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "the agsekit service watches this folder" in err
        assert "snapshot before the session:" in err
        assert "snapshot after the session" in err or "no changes since snapshot" in err
        assert not [label for label in labels(setup.backups) if label.startswith("during")]
        status = setup.run("status")
        assert status.returncode == 0, status.stderr
        assert "service: running, pid" in status.stdout
        assert "    service: watching (" in status.stdout
        as_json = json.loads(setup.run("status", "--json").stdout)
        assert as_json["service"]["running"] is True
        assert as_json["vms"][0]["mounts"][0]["service"]["mode"] == "watching"
        doctor = setup.run("doctor")
        assert f"ok       the service watches {setup.project}" in doctor.stdout
        assert "the background service is installed but not running" not in doctor.stdout
    finally:
        assert service.stop() == 143


def test_doctor_and_status_say_when_the_service_is_missing(setup: Setup, tmp_path: Path) -> None:
    setup.env.update(_env(setup, tmp_path))
    doctor = setup.run("doctor")
    assert "warning  the background service is not installed" in doctor.stdout
    assert "fix: agsekit daemon install" in doctor.stdout
    status = setup.run("status")
    assert status.stdout.splitlines()[0] == (
        "service: NOT RUNNING; not installed (agsekit daemon install)"
    )


def test_down_leaves_the_service_running_unless_asked(setup: Setup, tmp_path: Path) -> None:
    setup.env.update(_env(setup, tmp_path))
    assert setup.run("daemon", "install", "--no-linger").returncode == 0
    kept = setup.run("down")
    assert kept.returncode == 0, kept.stderr
    assert "the background service keeps snapshotting the host folders" in kept.stdout
    calls = (tmp_path / "service-calls").read_text()
    assert "systemctl --user stop" not in calls
    stopped = setup.run("down", "--stop-service")
    assert stopped.returncode == 0, stopped.stderr
    assert "stop: the service is now inactive" in stopped.stdout
    assert "systemctl --user stop agsekit.service" in (tmp_path / "service-calls").read_text()
