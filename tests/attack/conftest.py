"""Fixtures of the attack tests: a fake host, the project beside it, the store beside both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attack.tools import Host, cli_env

FILES = [f"f{index:02d}.txt" for index in range(30)]
EXTRAS = [f"extra{index:02d}" for index in range(10)]
NAMES = FILES + EXTRAS


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path / "host").build(NAMES)


@pytest.fixture
def env(tmp_path: Path, host: Host) -> dict[str, str]:
    return cli_env(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"
