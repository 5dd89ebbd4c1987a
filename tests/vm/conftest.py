"""Fixtures that put the Multipass double first on PATH, or use a real Multipass when
AGSEKIT_TEST_REAL_MULTIPASS=1 (then VMs are real, named agsekit-test-*, and purged after)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fake_multipass.guest import stop_all_keepers

FAKES = Path(__file__).parents[1] / "fakes"
REAL = os.environ.get("AGSEKIT_TEST_REAL_MULTIPASS") == "1"
STATE_ENV = "AGSEKIT_FAKE_MULTIPASS_STATE"

fake_only = pytest.mark.skipif(REAL, reason="drives a switch of the Multipass double")


class Multipass:
    """Runs `multipass` (the double, or the real one) the way a user would."""

    def __init__(self, env: dict[str, str], state: Path) -> None:
        self.env = env
        self.state = state
        self.created: list[str] = []

    def new_name(self) -> str:
        name = f"agsekit-test-{uuid.uuid4().hex[:8]}"
        self.created.append(name)
        return name

    def run(
        self, *args: str, cwd: Path | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["multipass", *args],
            env=self.env,
            cwd=cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )

    def ok(self, *args: str, cwd: Path | None = None) -> str:
        result = self.run(*args, cwd=cwd)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def switch(self, name: str, on: bool = True) -> None:
        """Turn a behaviour of the double on or off (daemon-down, drop-mounts-on-start...)."""
        assert not REAL
        path = self.state / name
        self.state.mkdir(parents=True, exist_ok=True)
        if on:
            path.touch()
        else:
            path.unlink(missing_ok=True)

    def launch(self, name: str | None = None) -> str:
        name = name or self.new_name()
        self.ok("launch", "--name", name, "--cpus", "1", "--memory", "512M", "--disk", "3G")
        return name


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A folder for mount sources: under /home, not hidden, when Multipass is the real snap."""
    if not REAL:
        yield tmp_path / "work"
        return
    folder = Path(tempfile.mkdtemp(prefix="agsekit-test-", dir=Path.home()))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def multipass_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    state = tmp_path / "fake-multipass"
    env[STATE_ENV] = str(state)
    if not REAL:
        env["PATH"] = f"{FAKES}{os.pathsep}{env.get('PATH', '')}"
        env["AGSEKIT_FAKE_MULTIPASS_PYTHON"] = sys.executable
        home = tmp_path / "home"
        home.mkdir()
        env["HOME"] = str(home)
    env.pop("CONFIG_PATH", None)
    return env


@pytest.fixture
def multipass(multipass_env: dict[str, str]) -> Iterator[Multipass]:
    mp = Multipass(multipass_env, Path(multipass_env[STATE_ENV]))
    yield mp
    if REAL:
        for name in mp.created:
            mp.run("delete", "--purge", name)
    else:
        stop_all_keepers(mp.state)  # every modelled instance's processes end with the test


@pytest.fixture
def in_process_multipass(multipass: Multipass, monkeypatch: pytest.MonkeyPatch) -> Multipass:
    """The same environment applied to this process, for calling the adapter directly."""
    for key in ("PATH", STATE_ENV, "HOME"):
        monkeypatch.setenv(key, multipass.env[key])
    return multipass


def agsekit(
    env: dict[str, str], *args: str, cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agsekit", *args],
        env=env,
        cwd=cwd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
