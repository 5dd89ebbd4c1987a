"""Loading and validating the YAML config: defaults, and one clear line per problem."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from agsekit.config.load import load_config, parse_config
from agsekit.config.paths import resolve_config_path
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


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert list(config.vms) == ["agent-ubuntu"]
    assert config.vms["agent-ubuntu"].ram == "4G"
    mount = config.mounts[0]
    assert mount.source == Path.home() / "projects" / "my-project"
    assert mount.vm == "agent-ubuntu"
    assert config.agents["claude"].env == (("ANTHROPIC_API_KEY", "${ANTHROPIC_API_KEY}"),)
    assert config.agents["claude"].isolation == "user"


def test_mount_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "vms:\n  first: {}\n  second: {}\nmounts:\n  - source: proj\n")
    )
    mount = config.mounts[0]
    assert mount.source == tmp_path / "proj"
    assert mount.target == "/home/ubuntu/proj"
    assert mount.backup == tmp_path / "backups-proj"
    assert mount.interval_minutes == 5
    assert mount.vm == "first"
    assert mount.retention.keep_within == timedelta(hours=2)
    assert config.vms["first"].cpu == 2


def test_tilde_is_expanded(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "vms: {a: {}}\nmounts: [{source: ~/x, backup: ~/b}]\n"))
    assert config.mounts[0].source == Path.home() / "x"
    assert config.mounts[0].backup == Path.home() / "b"


def test_per_mount_retention_overrides_top_level(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "vms: {a: {}}\nretention: {keep_daily: 3, keep_within: 1d}\n"
            "mounts:\n  - source: /p\n    retention: {keep_daily: 9}\n  - source: /q\n",
        )
    )
    assert config.mounts[0].retention.keep_daily == 9
    assert config.mounts[0].retention.keep_within == timedelta(days=1)
    assert config.mounts[1].retention.keep_daily == 3


def test_unknown_key_names_line_path_and_suggestion(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "vms:\n  a:\n    cpus: 2\n")
    assert problems == [
        "config.yaml:3: vms.a.cpus: unknown key (did you mean 'cpu'?); "
        "allowed here: cpu, ram, disk, cloud-init, http_proxy, proxychains, allowed_agents, "
        "port-forwarding, install, network"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vms:\n  a: {ram: 4T}\n", "config.yaml:2: vms.a.ram: not a Multipass size"),
        ("vms:\n  a: {disk: 1.5}\n", "config.yaml:2: vms.a.disk: input should be a valid string"),
        ("vms:\n  a: {ram: 64M}\n", "memory below Multipass' minimum of 128M (got '64M')"),
        ("vms:\n  a:\n    cpu: 0\n", "config.yaml:3: vms.a.cpu: input should be greater than"),
        ("vms:\n  a: {cpu: two}\n", "vms.a.cpu: input should be a valid integer (got 'two')"),
        (
            "vms: {a: {}}\nmounts:\n  - source: /p\n    interval: 0\n",
            "config.yaml:4: mounts[0].interval: input should be greater than 0 (got 0)",
        ),
        (
            "vms: {a: {}}\nmounts:\n  - source: /p\n  - source: /q\n    vm: b\n",
            "config.yaml:5: mounts[1].vm: no VM named 'b'",
        ),
        (
            "vms: {a: {}}\nmounts:\n  - {source: /p}\n  - {source: /p/}\n",
            "config.yaml:4: mounts[1].source: the same source as mounts[0] (got '/p')",
        ),
        (
            "vms: {a: {}}\nmounts:\n  - {source: /p/q, backup: /p}\n",
            "mounts[0].backup: the backup folder must not be the source or contain it",
        ),
        (
            "vms: {a: {}}\nmounts:\n  - {source: /p, backup: /p}\n",
            "mounts[0].backup: the backup folder must not be the source or contain it",
        ),
        ("mounts:\n  - source: /p\n", "config.yaml:2: mounts[0]: no VM to mount into"),
        ("retention: {keep_within: soon}\n", "retention.keep_within: not a duration"),
        ("alarm: {deleted_fraction: 2}\n", "alarm.deleted_fraction: input should be less than"),
        ("agents:\n  x: {type: claud}\n", "config.yaml:2: agents.x.type: unknown agent type"),
        (
            "agents:\n  x: {type: claude, isolation: root}\n",
            "agents.x.isolation: input should be 'user' or 'none' (got 'root')",
        ),
        ("vms:\n  bad_name: {}\n", "config.yaml:2: vms.bad_name: not a valid VM name"),
        ("- a\n- b\n", "(top level): the top level must be a mapping"),
    ],
)
def test_invalid_values(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(tmp_path, text)
    assert any(expected in p for p in problems), problems


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "vms:\n  a: {cpu: 0, ram: x}\nalarm: {deleted_files: 0}\n")
    assert len(problems) == 3


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config.yaml:3: not valid YAML: mapping values"):
        load_config(write(tmp_path, "vms:\n  a: {}\n  b: c: d\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no configuration file at"):
        load_config(tmp_path / "nope.yaml")
    assert load_config(tmp_path / "nope.yaml", required=False).mounts == ()


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    assert parse_config("", tmp_path / "c.yaml").vms == {}


def test_config_path_precedence(tmp_path: Path) -> None:
    env = {"HOME": "/home/u", "CONFIG_PATH": "/etc/c.yaml", "XDG_CONFIG_HOME": "/x"}
    assert resolve_config_path("/a.yaml", env) == Path("/a.yaml")
    assert resolve_config_path(None, env) == Path("/etc/c.yaml")
    del env["CONFIG_PATH"]
    assert resolve_config_path(None, env) == Path("/x/agsekit/config.yaml")
    del env["XDG_CONFIG_HOME"]
    assert resolve_config_path(None, env) == Path("/home/u/.config/agsekit/config.yaml")


def test_cli_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "vms:\n  a: {cpu: 0}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "agsekit", "config-check", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "config.yaml:2: vms.a.cpu: input should be greater than or equal to 1" in proc.stderr


def test_long_values_are_shown_whole(tmp_path: Path) -> None:
    folder = "/home/me/projects/some-long-folder-name-that-goes-on-and-on/and-on-and-on/sub"
    text = f"vms: {{a: {{}}}}\nmounts:\n  - {{source: {folder}, backup: {folder}}}\n"
    problems = problems_of(tmp_path, text)
    assert any(p.endswith(f"(got {folder!r})") for p in problems), problems


@pytest.mark.parametrize(
    ("yaml_value", "shown"),
    [
        ('"a b "', "(got 'a b ')"),
        ('"tab\\there"', "(got 'tab\\there')"),
        ('"bell\\a"', "(got 'bell\\x07')"),
        ("true", "(got true)"),
        ("null", "(got null)"),
        ("[1, x]", "(got [1, 'x'])"),
    ],
)
def test_values_are_quoted_with_control_characters_escaped(
    tmp_path: Path, yaml_value: str, shown: str
) -> None:
    problems = problems_of(tmp_path, f"vms:\n  a: {{cpu: {yaml_value}}}\n")
    assert len(problems) == 1
    assert problems[0].startswith("config.yaml:2: vms.a.cpu: input should be a valid integer")
    assert problems[0].endswith(shown), problems
    assert "\t" not in problems[0] and "\a" not in problems[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'vms:\n  ok: {}\n  "a\\n": {}\n',
            "config.yaml:3: vms.'a\\n': not a valid VM name: letters, digits and '-', "
            "starting with a letter and not ending with '-' (got 'a\\n')",
        ),
        ("vms:\n  a-: {}\n", "config.yaml:2: vms.a-: not a valid VM name"),
        (
            'agents:\n  "claude\\n": {type: claude}\n',
            "config.yaml:2: agents.'claude\\n': not a valid agent name: letters, digits, "
            "'-' and '_', starting with a letter (got 'claude\\n')",
        ),
        ("agents:\n  x y: {type: claude}\n", "config.yaml:2: agents.'x y': not a valid agent"),
        ("agents:\n  _x: {type: claude}\n", "config.yaml:2: agents._x: not a valid agent name"),
        (
            'agents:\n  a:\n    type: claude\n    env:\n      OK: x\n      "KEY\\n": y\n',
            "config.yaml:6: agents.a.env.'KEY\\n': not a valid environment variable name",
        ),
        (
            "agents:\n  a:\n    type: claude\n    env: {1KEY: y}\n",
            "config.yaml:4: agents.a.env.1KEY: not a valid environment variable name",
        ),
    ],
)
def test_names_must_match_as_a_whole(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(tmp_path, text)
    assert any(p.startswith(expected) for p in problems), problems
    assert not any("\n" in p for p in problems), problems


def test_valid_names_stay_valid(tmp_path: Path) -> None:
    text = (
        "vms:\n  a: {}\n  Agent-2: {}\n"
        "agents:\n  claude: {type: claude}\n  my_codex-2: {type: codex}\n"
        "  c: {type: aider, env: {_X: a, PATH2: b}}\n"
    )
    config = load_config(write(tmp_path, text))
    assert list(config.vms) == ["a", "Agent-2"]
    assert list(config.agents) == ["claude", "my_codex-2", "c"]


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (
            '{type: claude, version: "2.0\\n"}',
            "agents.a.version: must not contain control characters (found U+000A) (got '2.0\\n')",
        ),
        (
            "{type: claude, version: '2.0 && x'}",
            "agents.a.version: not a version: no spaces, not empty, not starting with '-' "
            "(e.g. 2.0.1 or latest) (got '2.0 && x')",
        ),
        ("{type: claude, version: '--pre'}", "agents.a.version: not a version"),
        ("{type: claude, version: ''}", "agents.a.version: not a version"),
        (
            '{type: claude, default_args: [ok, "a\\0b"]}',
            "agents.a.default_args[1]: must not contain NUL characters (got 'a\\x00b')",
        ),
        (
            '{type: claude, env: {KEY: "x\\0LD_PRELOAD=/evil.so"}}',
            "agents.a.env.KEY: must not contain NUL characters (got ******)",  # a secret
        ),
    ],
)
def test_agent_values(tmp_path: Path, agent: str, expected: str) -> None:
    problems = problems_of(tmp_path, f"agents:\n  a: {agent}\n")
    assert len(problems) == 1
    assert problems[0].startswith(f"config.yaml:2: {expected}"), problems


def test_agent_values_that_stay_valid(tmp_path: Path) -> None:
    text = (
        "agents:\n  a:\n    type: claude\n    version: 1.0.0-beta.1+build\n"
        '    default_args: ["--model", "a b", "line one\\nline two"]\n'
        '    env: {PEM: "-----BEGIN-----\\nabc\\n-----END-----"}\n'
    )
    agent = load_config(write(tmp_path, text)).agents["a"]
    assert agent.version == "1.0.0-beta.1+build"
    assert agent.default_args == ("--model", "a b", "line one\nline two")


def test_a_fifo_or_a_huge_file_in_place_of_the_config_is_refused_never_read(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    result = run_cli("config-check", "--config", fifo, timeout=60)  # would hang on a read
    assert result.returncode == 2
    assert f"cannot read configuration file {fifo}: [Errno 22] not a regular file" in result.stderr
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (5 << 20))
    result = run_cli("config-check", "--config", huge, timeout=60)
    assert result.returncode == 2
    assert "larger than 4 MiB" in result.stderr
    real = tmp_path / "real.yaml"
    real.write_text("vms:\n  a: {}\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)  # a dotfile manager's symlink is the user's own choice
    result = run_cli("config-check", "--config", link, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_callers_own_pipe_is_read(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agsekit", "config-check", "--config", "/dev/stdin"],
        input="vms:\n  a: {}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "vm a: 2 CPU" in proc.stdout
