"""Shell completion end to end: the script printed by `agsekit completion bash`, sourced
into a real bash, completes commands, config names and snapshot names."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]


def complete(words: str, env: dict[str, str], before: str = "") -> list[str]:
    """What bash offers for the command line `words` (the last word is being typed);
    before: shell commands run first."""
    script = run_cli("completion", "bash").stdout
    parts = words.split(" ")
    program = (
        f"{script}\n{before}\n"
        f"COMP_WORDS=({' '.join(repr(p) for p in parts)}); COMP_CWORD={len(parts) - 1}\n"
        "_agsekit_completion agsekit\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    path = f"{ROOT}{os.pathsep}{os.environ['PATH']}"  # the repository's ./agsekit
    result = subprocess.run(
        ["bash", "--norc", "-c", program],
        env={**os.environ, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "agsekit:" not in result.stderr  # no error on the screen while Tab is pressed
    return [line for line in result.stdout.splitlines() if line]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    source = tmp_path / "alpha"
    source.mkdir()
    (source / "a.txt").write_text("one\n")
    path = tmp_path / "config.yaml"
    path.write_text(
        "vms:\n  work: {}\n  play: {}\n"
        f"mounts:\n  - source: {source}\n    backup: {tmp_path / 'store'}\n"
        "agents:\n  claude: {type: claude}\n  codex: {type: codex}\n  aider: {type: aider}\n"
    )
    return path


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_config_names_and_snapshots(config: Path, tmp_path: Path) -> None:
    env = {"CONFIG_PATH": str(config)}
    assert complete("agsekit backup-re", env) == [
        "backup-repeated",
        "backup-repeated-mount",
        "backup-repeated-all",
        "backup-restore",
        "backup-repoint",
    ]
    assert complete("agsekit destroy-vm ", env) == ["work", "play"]
    assert complete("agsekit run c", env) == ["claude", "codex"]
    assert complete("agsekit install-agents --vm p", env) == ["play"]
    assert complete("agsekit mount ", env) == [str(tmp_path / "alpha")]
    assert "--quiet" in complete("agsekit run --q", env)

    store = tmp_path / "store"
    for text in ("two\n", "three\n"):
        (tmp_path / "alpha" / "a.txt").write_text(text)
        taken = run_cli("backup-once", "--source-dir", tmp_path / "alpha", "--dest-dir", store)
        assert taken.returncode == 0, taken.stderr
    names = sorted(p.name for p in store.iterdir() if not p.name.startswith("."))
    assert len(names) == 2
    newest_first = names[::-1]
    assert complete(f"agsekit backup-pin --dest-dir {store} ", env) == newest_first
    mount = str(tmp_path / "alpha")
    assert complete(f"agsekit backup-restore --mount {mount} --snapshot ", env) == newest_first
    assert complete(f"agsekit backup-list --config {config} --mount ", env) == [mount]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_a_broken_config_completes_nothing_and_never_fails(tmp_path: Path) -> None:
    broken = tmp_path / "config.yaml"
    broken.write_text("vms: [\n")
    env = {"CONFIG_PATH": str(broken)}
    assert complete("agsekit destroy-vm ", env) == []
    assert complete("agsekit backup-pin ", env) == []
    assert complete("agsekit stop-", env) == ["stop-vm"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_a_removed_current_folder_completes_nothing_and_never_fails(
    config: Path, tmp_path: Path
) -> None:
    """Snapshot names come from the mount holding the current folder: when that folder
    is gone, Tab offers nothing and prints nothing."""
    gone = tmp_path / "gone"
    gone.mkdir()
    env = {"CONFIG_PATH": str(config)}
    before = f"cd {gone} && rmdir {gone}"
    assert complete("agsekit backup-diff ", env, before) == []
    assert complete("agsekit backup-pin ", env, before) == []
    assert complete("agsekit run c", env, before) == ["claude", "codex"]


def test_completion_scripts_for_each_shell() -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")):
        result = run_cli("completion", shell)
        assert result.returncode == 0, result.stderr
        assert marker in result.stdout and "_AGSEKIT_COMPLETE" in result.stdout
    wrong = run_cli("completion", "tcsh")
    assert wrong.returncode == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in wrong.stderr
