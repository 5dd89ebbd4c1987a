"""Hostile or broken YAML: alias bombs, deep nesting, values Python cannot build.

Each is one config error naming the line, never a traceback and never a hang. Tests that
could hang on a regression run in a subprocess with a timeout.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agsekit.config.load import load_config
from agsekit.core.errors import ConfigError
from tests.helpers import ROOT, run_cli


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def billion_laughs() -> str:
    """9 lines: each level is 9 aliases of the one before, 9**9 values once expanded."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "vms:\n  a:\n    cloud-init:\n" + "".join(f"      {line}\n" for line in lines)


def test_cli_refuses_a_billion_laughs_config_fast(tmp_path: Path) -> None:
    path = write(tmp_path, billion_laughs())
    started = time.monotonic()
    proc = run_cli("config-check", "--config", path, timeout=30)
    assert time.monotonic() - started < 30
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"agsekit: error: invalid configuration in {path}",
        "  config.yaml:5: vms.a.cloud-init.l1[0]: YAML aliases (the first one here) expand "
        "the configuration by more than 10000 values; write the values out or use fewer "
        "aliases",
    ]


def test_loading_a_billion_laughs_config_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, billion_laughs())
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from agsekit.config.load import load_config\n"
        "from agsekit.core.errors import ConfigError\n"
        "try:\n"
        "    load_config(Path(sys.argv[1]))\n"
        "except ConfigError as exc:\n"
        "    print(exc.problems[0])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=ROOT,
    )
    assert proc.stdout.startswith("config.yaml:5: vms.a.cloud-init.l1[0]: YAML aliases")


def test_a_long_string_repeated_by_aliases_counts_by_its_length(tmp_path: Path) -> None:
    aliases = ", ".join(["*s"] * 200)
    text = f'vms:\n  a:\n    cloud-init:\n      s: &s "{"x" * 10_000}"\n      many: [{aliases}]\n'
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.problems == [
        "config.yaml:5: vms.a.cloud-init.many[0]: YAML aliases (the first one here) expand "
        "the configuration by more than 10000 values; write the values out or use fewer "
        "aliases"
    ]


def test_ordinary_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    text = (
        "vms:\n  a: &vm {cpu: 2, ram: 2G}\n  b: *vm\n"
        "mounts:\n"
        "  - &m {source: /p, interval: 10, vm: b}\n"
        "  - <<: *m\n    source: /q\n"
        "agents:\n  c: {type: claude, default_args: &args [--x, --y]}\n"
        "  d: {type: codex, default_args: *args}\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.vms["b"].ram == "2G"
    assert [(m.source, m.interval_minutes, m.vm) for m in config.mounts] == [
        (Path("/p"), 10.0, "b"),
        (Path("/q"), 10.0, "b"),
    ]
    assert config.agents["d"].default_args == ("--x", "--y")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "vms:\n  a:\n    cloud-init: " + "[" * 60 + "]" * 60 + "\n"))
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("config.yaml:3: vms.a.cloud-init[0][0]")
    assert info.value.problems[0].endswith(": nested more than 50 levels deep")


def test_cli_refuses_nesting_too_deep_for_the_yaml_reader(tmp_path: Path) -> None:
    path = write(tmp_path, "vms:\n  a:\n    cloud-init: " + "[" * 5000 + "]" * 5000 + "\n")
    proc = run_cli("config-check", "--config", path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == f"agsekit: error: {path}: not valid YAML: nested too deeply\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "9" * 5000,
            "config.yaml:3: not valid YAML: cannot read the value '" + "9" * 5000 + "': Exceeds",
        ),
        ("2024-02-30", "config.yaml:3: not valid YAML: cannot read the value '2024-02-30': day"),
        ("!!bool maybe", "config.yaml:3: not valid YAML: cannot read the value 'maybe'"),
    ],
)
def test_values_python_cannot_build(tmp_path: Path, value: str, expected: str) -> None:
    path = write(tmp_path, f"vms:\n  a:\n    cpu: {value}\n")
    proc = run_cli("config-check", "--config", path, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"agsekit: error: {path.parent}/{expected}"), proc.stderr


@pytest.mark.parametrize(
    ("raw", "code"), [("\x07", "0007"), ("\x7f", "007F"), ("\x1b[31m", "001B")]
)
def test_raw_control_characters_in_the_file(tmp_path: Path, raw: str, code: str) -> None:
    path = write(tmp_path, f"vms:\n  a: {{}}\nmounts:\n  - source: /p{raw}\n")
    proc = run_cli("config-check", "--config", path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"agsekit: error: {path}:4: not valid YAML: the character U+{code} is not allowed "
        '(write it as an escape in a double-quoted string, e.g. "\\t")\n'
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [("!foo 3", "!foo '3'"), ("2001-01-01", "2001-01-01"), ("!!set {a}", "!!set {'a'}")],
)
def test_other_yaml_values_are_shown_as_written(tmp_path: Path, value: str, shown: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"vms:\n  a:\n    cpu: {value}\n"))
    assert info.value.problems == [
        f"config.yaml:3: vms.a.cpu: input should be a valid integer (got {shown})"
    ]


def test_yaml_errors_keep_their_context(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "vms: {}\n---\nvms: {}\n"))
    assert info.value.message == (
        f"{tmp_path / 'config.yaml'}:2: not valid YAML: expected a single document in the "
        "stream, but found another document"
    )
