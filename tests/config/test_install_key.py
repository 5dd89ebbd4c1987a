"""A VM's `install:` list of toolchain bundles: what is accepted, and one line per mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agsekit.config.load import load_config
from agsekit.config.model import BundleSpec
from agsekit.core.errors import ConfigError
from tests.helpers import run_cli


def load(tmp_path: Path, install: str) -> list[str] | tuple[BundleSpec, ...]:
    path = tmp_path / "config.yaml"
    path.write_text(f"vms:\n  a:\n    cpu: 1\n    install: {install}\n")
    try:
        return load_config(path).vms["a"].install
    except ConfigError as error:
        return error.problems


def test_names_with_and_without_versions(tmp_path: Path) -> None:
    install = "[python:3.12, nodejs:22, rust, golang:1.23, docker, uv, pyenv, nvm:0.40.1]"
    assert load(tmp_path, install) == (
        BundleSpec("python", "3.12"),
        BundleSpec("nodejs", "22"),
        BundleSpec("rust"),
        BundleSpec("golang", "1.23"),
        BundleSpec("docker"),
        BundleSpec("uv"),
        BundleSpec("pyenv"),
        BundleSpec("nvm", "0.40.1"),
    )


def test_no_install_key_is_no_bundle(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("vms:\n  a: {}\n")
    assert load_config(path).vms["a"].install == ()


@pytest.mark.parametrize(
    ("install", "problem"),
    [
        (
            "[rust, nodjs:22]",
            "config.yaml:4: vms.a.install[1]: unknown bundle (did you mean 'nodejs'? known: "
            "python, nodejs, golang, rust, docker, uv, pyenv, nvm) (got 'nodjs:22')",
        ),
        (
            "[docker:24]",
            "config.yaml:4: vms.a.install[0]: docker takes no version: write just 'docker' "
            "(got 'docker:24')",
        ),
        (
            "[golang:1.x]",
            "config.yaml:4: vms.a.install[0]: not a version of golang: 1.X or 1.X.Y (default: "
            "the newest stable release), e.g. 'golang:1.23' (got 'golang:1.x')",
        ),
        (
            "[python:2.7]",
            "config.yaml:4: vms.a.install[0]: not a version of python: 3.X or 3.X.Y (default: "
            "Ubuntu's python3), e.g. 'python:3.12' (got 'python:2.7')",
        ),
        (
            "[nodejs:22, uv, 'nodejs:20']",
            "config.yaml:4: vms.a.install[2]: nodejs is listed twice: keep one (with its "
            "version) (got 'nodejs:20')",
        ),
        (
            "[{python: 3.12}]",
            "config.yaml:4: vms.a.install[0]: write a bundle as one word, e.g. 'python:3.12' "
            "(no space) (got {'python': 3.12})",
        ),
        (
            "[22]",
            "config.yaml:4: vms.a.install[0]: must be a bundle name, optionally with :VERSION, "
            "e.g. nodejs:22 (got 22)",
        ),
        ("nodejs", "config.yaml:4: vms.a.install: input should be a valid list (got 'nodejs')"),
    ],
)
def test_each_mistake_is_one_line_at_its_item(tmp_path: Path, install: str, problem: str) -> None:
    assert load(tmp_path, install) == [problem]


def test_items_on_their_own_lines_are_reported_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("vms:\n  a:\n    install:\n      - uv\n      - golang:1.23\n      - uv\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        "config.yaml:6: vms.a.install[2]: uv is listed twice: keep one (with its version) "
        "(got 'uv')"
    ]


def test_config_check_shows_the_bundles(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("vms:\n  a:\n    install: [nodejs:22, docker]\n  b: {}\n")
    result = run_cli("config-check", "--json", "--config", path)
    assert result.returncode == 0, result.stderr
    vms = json.loads(result.stdout)["vms"]
    assert vms["a"]["install"] == ["nodejs:22", "docker"]
    assert "install" not in vms["b"]
