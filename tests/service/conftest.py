"""The service's tests: `agsekit daemon run` as a real process on real folders, its
status file read back, and fake systemctl / loginctl / launchctl first on PATH (never the
service manager of the machine the tests run on)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import snapshots_in, start_cli, write

FAKES = Path(__file__).parent / "fakes"
FAST = "debounce: 0.3s\nmax_delay: 3s\nmin_interval: 0s\n"


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_RUNTIME_DIR": str(tmp_path / "runtime"),
        "PATH": f"{FAKES}{os.pathsep}{os.environ['PATH']}",
        "AGSEKIT_FAKE_SERVICE_LOG": str(tmp_path / "service-calls"),
        "AGSEKIT_FAKE_SERVICE_STATE": str(tmp_path / "service-state"),
        "AGSEKIT_SERVICE_MANAGER": "systemd",
        "CONFIG_PATH": "",
    }


def mount_config(
    project: Path, backups: Path, *, extra: str = FAST, mount_extra: str = "", interval: float = 60
) -> str:
    return (
        f"vms: {{a: {{}}}}\n{extra}mounts:\n  - source: {project}\n    backup: {backups}\n"
        f"    interval: {interval}\n{mount_extra}"
    )


@dataclass
class Project:
    root: Path
    backups: Path
    config: Path

    def snapshots(self) -> list[str]:
        return snapshots_in(self.backups) if self.backups.exists() else []


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    write(root / "README.md", "hello\n")
    write(root / "src" / "main.py", "print('hi')\n")
    write(root / ".backupignore", "*.log\n")
    backups = tmp_path / "backups"
    config = write(tmp_path / "config.yaml", mount_config(root, backups))
    return Project(root, backups, config)


class Service:
    """`agsekit daemon run` started as a process."""

    def __init__(self, env: dict[str, str], config: Path) -> None:
        self.env = env
        self.state = Path(env["XDG_STATE_HOME"]) / "agsekit" / "daemon"
        self.proc: subprocess.Popen[str] = start_cli(
            "daemon", "run", "--config", config, env=env, capture=False
        )

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads((self.state / "status.json").read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def mount(self, index: int = 0) -> dict[str, Any]:
        mounts = self.status().get("mounts", [])
        return mounts[index] if len(mounts) > index else {}

    def log(self) -> str:
        try:
            return (self.state / "daemon.log").read_text()
        except OSError:
            return ""

    def wait(self, what: Callable[[], object], timeout: float = 30, why: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if self.proc.poll() is not None:
                raise AssertionError(f"the service exited ({self.proc.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {why or what}:\n{self.log()}")
            time.sleep(0.02)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


@pytest.fixture
def start_service(service_env: dict[str, str]) -> Iterator[Callable[[Path], Service]]:
    started: list[Service] = []

    def start(config: Path) -> Service:
        service = Service(service_env, config)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(timeout=30)


def settle(project: Project, count: int, service: Service, timeout: float = 30) -> None:
    service.wait(lambda: len(project.snapshots()) >= count, timeout, f"{count} snapshot(s)")
