"""exclude, ignore_files and reserve: host-side snapshot rules, at the top level and per mount."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agsekit.config.load import load_config
from agsekit.config.model import DEFAULT_RESERVE
from agsekit.core.errors import ConfigError
from tests.helpers import run_cli

EXAMPLE = Path(__file__).parents[2] / "src" / "agsekit" / "config" / "example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


MOUNT = "vms: {a: {}}\nmounts:\n  - source: /p\n"


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MOUNT))
    mount = config.mounts[0]
    assert (mount.exclude, mount.ignore_files, mount.reserve) == ((), "both", 0.05)
    assert (config.ignore_files, config.reserve) == ("both", DEFAULT_RESERVE)


def test_mounts_inherit_and_override(tmp_path: Path) -> None:
    text = (
        "vms: {a: {}}\nignore_files: host\nreserve: 10%\nmounts:\n"
        "  - source: /p\n    exclude: [node_modules/, '*.log', '!keep.log', ' spaced ']\n"
        "  - source: /q\n    ignore_files: tree\n    reserve: '0%'\n"
        "  - source: /r\n    ignore_files: both\n    reserve: 2.5%\n"
    )
    config = load_config(write(tmp_path, text))
    p, q, r = config.mounts
    assert p.exclude == ("node_modules/", "*.log", "!keep.log", " spaced ")
    assert [(m.ignore_files, m.reserve) for m in (p, q, r)] == [
        ("host", 0.1),
        ("tree", 0.0),
        ("both", 0.025),
    ]
    assert (config.ignore_files, config.reserve) == ("host", 0.1)


def test_example_config_documents_the_new_keys() -> None:
    config = load_config(EXAMPLE)
    mount = config.mounts[0]
    assert mount.exclude == ("node_modules/", "*.log")
    assert (mount.ignore_files, mount.reserve) == ("both", 0.05)
    text = EXAMPLE.read_text()
    assert "\nignore_files: both" in text and "\nreserve: 5%" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('[""]', "mounts[0].exclude[0]: must not be empty (got '')"),
        (
            '[ok, "a\\nb"]',
            "mounts[0].exclude[1]: must not contain control characters (found U+000A) "
            "(got 'a\\nb')",
        ),
        (
            '["!"]',
            "mounts[0].exclude[0]: matches nothing: a pattern needs a name, e.g. build/ or "
            "*.log (got '!')",
        ),
        ('["/"]', "mounts[0].exclude[0]: matches nothing"),
        ('["!//"]', "mounts[0].exclude[0]: matches nothing"),
        ("[1]", "mounts[0].exclude[0]: input should be a valid string (got 1)"),
        ("node_modules", "mounts[0].exclude: input should be a valid list (got 'node_modules')"),
        ("", "mounts[0].exclude: input should be a valid list (got null)"),
    ],
)
def test_bad_excludes(tmp_path: Path, value: str, expected: str) -> None:
    problems = problems_of(tmp_path, f"{MOUNT}    exclude: {value}\n")
    assert len(problems) == 1
    assert problems[0].startswith(f"config.yaml:4: {expected}"), problems


def test_excludes_that_would_never_apply(tmp_path: Path) -> None:
    text = f"ignore_files: tree\n{MOUNT}    exclude: [build/]\n  - source: /q\n"
    assert problems_of(tmp_path, text) == [
        "config.yaml:5: mounts[0].exclude: would never apply: ignore_files is 'tree' for this "
        "mount (only .backupignore files); set ignore_files to 'both' or 'host', or drop these "
        "patterns (got ['build/'])"
    ]


@pytest.mark.parametrize(
    ("where", "value", "expected"),
    [
        ("top", "all", "ignore_files: input should be 'host', 'tree' or 'both' (got 'all')"),
        ("top", "true", "ignore_files: input should be 'host', 'tree' or 'both' (got true)"),
        ("mount", "HOST", "mounts[0].ignore_files: input should be 'host', 'tree' or 'both'"),
        ("mount", "''", "mounts[0].ignore_files: input should be 'host', 'tree' or 'both'"),
    ],
)
def test_bad_ignore_files(tmp_path: Path, where: str, value: str, expected: str) -> None:
    if where == "top":
        text, line = f"ignore_files: {value}\n{MOUNT}", 1
    else:
        text, line = f"{MOUNT}    ignore_files: {value}\n", 4
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].startswith(f"config.yaml:{line}: {expected}"), problems


PERCENTAGE = 'must be a percentage such as "5%", from "0%" (off) to "50%"'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", f"{PERCENTAGE} (got 5)"),
        ("0.05", f"{PERCENTAGE} (got 0.05)"),
        ("true", f"{PERCENTAGE} (got true)"),
        ('"5"', f"{PERCENTAGE} (got '5')"),
        ('"5 %"', f"{PERCENTAGE} (got '5 %')"),
        ('"-1%"', f"{PERCENTAGE} (got '-1%')"),
        ('"%"', f"{PERCENTAGE} (got '%')"),
        ('"5%\\n"', f"{PERCENTAGE} (got '5%\\n')"),
        ('"\u0665%"', f"{PERCENTAGE} (got '\u0665%')"),
        ("51%", "must be at most 50% (got '51%')"),
        ("50.5%", "must be at most 50% (got '50.5%')"),
    ],
)
def test_bad_reserve(tmp_path: Path, value: str, expected: str) -> None:
    problems = problems_of(tmp_path, f"reserve: {value}\n{MOUNT}    reserve: {value}\n")
    assert problems == [
        f"config.yaml:5: mounts[0].reserve: {expected}",
        f"config.yaml:1: reserve: {expected}",
    ]


@pytest.mark.parametrize(("value", "fraction"), [("0%", 0.0), ("50%", 0.5), ("12.5%", 0.125)])
def test_reserve_bounds(tmp_path: Path, value: str, fraction: float) -> None:
    config = load_config(write(tmp_path, f"reserve: {value}\n{MOUNT}"))
    assert config.mounts[0].reserve == fraction


def test_config_check_shows_the_new_keys(tmp_path: Path) -> None:
    text = (
        "vms: {a: {}}\nreserve: 10%\nmounts:\n"
        "  - {source: /srv/p, exclude: [node_modules/, my file], ignore_files: host}\n"
        "  - {source: /srv/q, reserve: 2.5%}\n"
    )
    path = write(tmp_path, text)
    proc = run_cli("config-check", "--config", path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("    service:")]
    assert lines[2:] == [
        "  mount /srv/p -> a:/home/ubuntu/p, snapshots in /srv/backups-p every 5 min",
        "    exclude: 'node_modules/', 'my file'; ignore_files: host (exclude patterns only); "
        "reserve: 10% of the store's filesystem",
        "  mount /srv/q -> a:/home/ubuntu/q, snapshots in /srv/backups-q every 5 min",
        "    exclude: none; ignore_files: both (exclude patterns and .backupignore files); "
        "reserve: 2.5% of the store's filesystem",
    ]
    as_json = json.loads(run_cli("config-check", "--config", path, "--json", timeout=60).stdout)
    assert [(m["exclude"], m["ignore_files"], m["reserve"]) for m in as_json["mounts"]] == [
        (["node_modules/", "my file"], "host", 0.1),
        ([], "both", 0.025),
    ]
    assert (as_json["ignore_files"], as_json["reserve"]) == ("both", 0.1)


def test_cli_refuses_a_bad_reserve(tmp_path: Path) -> None:
    path = write(tmp_path, f"reserve: 80%\n{MOUNT}")
    proc = run_cli("config-check", "--config", path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[1:] == [
        "  config.yaml:1: reserve: must be at most 50% (got '80%')"
    ]
