"""debounce, max_delay, min_interval (top level and per mount) and watch_budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from agsekit.config.load import load_config
from agsekit.config.model import Timing
from agsekit.core.errors import ConfigError
from tests.helpers import run_cli

EXAMPLE = Path(__file__).parents[2] / "src" / "agsekit" / "config" / "example.yaml"
MOUNT = "vms: {a: {}}\nmounts:\n  - source: /p\n"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    return info.value.problems


def test_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MOUNT))
    assert config.timing == Timing(10.0, 60.0, 30.0)
    assert config.mounts[0].timing == Timing(10.0, 60.0, 30.0)
    assert config.watch_budget is None


def test_mounts_inherit_and_override(tmp_path: Path) -> None:
    text = (
        "vms: {a: {}}\ndebounce: 5s\nmax_delay: 2m\nmin_interval: 0s\nwatch_budget: 50\n"
        "mounts:\n  - source: /p\n  - source: /q\n    debounce: 1s\n    min_interval: 1m\n"
    )
    config = load_config(_write(tmp_path, text))
    assert [m.timing for m in config.mounts] == [Timing(5, 120, 0), Timing(1, 120, 60)]
    assert config.watch_budget == 50


def test_config_check_shows_the_timing(tmp_path: Path) -> None:
    proc = run_cli("config-check", "--config", _write(tmp_path, MOUNT + "    debounce: 1s\n"))
    assert proc.returncode == 0, proc.stderr
    assert (
        "    service: snapshot 1s after the last change, at most 60s after the first, at least "
        "30s apart"
    ) in proc.stdout.splitlines()


def test_example_documents_the_keys() -> None:
    config = load_config(EXAMPLE)
    assert config.timing == Timing(10.0, 60.0, 30.0)
    text = EXAMPLE.read_text()
    for key in ("\ndebounce: 10s", "\nmax_delay: 60s", "\nmin_interval: 30s", "watch_budget:"):
        assert key in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "    debounce: 10\n",
            'config.yaml:4: mounts[0].debounce: must be a duration with its unit, such as "10s" '
            'or "1m" (got 10)',
        ),
        ("    debounce: 0s\n", "config.yaml:4: mounts[0].debounce: must be longer than 0s"),
        ("    debounce: 2h\n", "config.yaml:4: mounts[0].debounce: must be at most 1h (got '2h')"),
        ("    max_delay: 2d\n", "config.yaml:4: mounts[0].max_delay: must be at most 1d"),
        ("    min_interval: soon\n", "config.yaml:4: mounts[0].min_interval: not a duration"),
        ("    min_interval: true\n", "config.yaml:4: mounts[0].min_interval: must be a duration"),
        (
            "    max_delay: 5s\n",
            "config.yaml:4: mounts[0].max_delay: max_delay (5s) must not be shorter than "
            "debounce (10s)",
        ),
        (
            "    debounce: 90s\n",
            "config.yaml:4: mounts[0].debounce: max_delay (60s) must not be shorter than "
            "debounce (90s)",
        ),
    ],
)
def test_bad_mount_values_are_one_error_each(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(tmp_path, MOUNT + text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("watch_budget: 0\n", "config.yaml:1: watch_budget: input should be greater than"),
        ("watch_budget: '5'\n", "config.yaml:1: watch_budget: input should be a valid integer"),
        ("debounce: 2m\n", "config.yaml:1: debounce: max_delay (60s) must not be shorter"),
        ("max_delay: 1s\n", "config.yaml:1: max_delay: max_delay (1s) must not be shorter"),
    ],
)
def test_bad_top_level_values(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(tmp_path, text + MOUNT)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path
