"""A configured project, a VM in the Multipass double, and a stand-in agent inside it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import write
from tests.vm.conftest import REAL, STATE_ENV, Multipass, agsekit, multipass, multipass_env

__all__ = ["Multipass", "agsekit", "multipass", "multipass_env"]

SECRET = "s3cr3t-Value-7f2a9c"  # noqa: S105 - a test value that must never leak

# The stand-in agent: what it does depends on its first argument.
STAND_IN = r"""#!/bin/bash
evidence="$HOME/evidence"
mkdir -p "$evidence"
pwd > "$evidence/pwd"
printf '%s' "$AGENT_TOKEN" | sha256sum | cut -d' ' -f1 > "$evidence/token-sha"
printf '%s' "$PLAIN" > "$evidence/plain"
[ -t 0 ] && echo tty > "$evidence/stdin" || echo notty > "$evidence/stdin"
printf '%s\n' "$@" > "$evidence/args"
[ "$1" = --from-config ] && shift  # the config's default_args come first
case "$1" in
  exit) exit "$2" ;;
  wipe) find . -mindepth 1 -delete; echo "wiped" ;;
  rewrite) echo "rewritten by the agent" > README.md ;;
  wait)
    touch "$evidence/started-$2"
    for _ in $(seq 1 600); do [ -e "$evidence/go-$2" ] && break; sleep 0.05; done
    # patterns from a file, so the token is not on grep's own command line
    grep -l -a -F -f <(printf '%s\n' "$AGENT_TOKEN") /proc/[0-9]*/cmdline \
      > "$evidence/cmdline-hits-$2" 2>/dev/null
    exit 0 ;;
  trap)
    trap 'echo interrupted; exit 130' INT
    touch "$evidence/started-trap"
    for _ in $(seq 1 600); do sleep 0.05; done
    exit 0 ;;
esac
exit 0
"""


@dataclass
class Setup:
    env: dict[str, str]
    mp: Multipass
    project: Path
    backups: Path
    config: Path
    vm: str

    @property
    def guest_home(self) -> Path:
        return Path(self.env[STATE_ENV]) / "homes" / self.vm

    @property
    def evidence(self) -> Path:
        return self.guest_home / "evidence"

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return agsekit(self.env, *args, cwd=cwd or self.project)


def config_text(project: Path, backups: Path, vm: str, interval: float = 5) -> str:
    return (
        f"vms:\n  {vm}:\n    cpu: 1\n    ram: 512M\n    disk: 3G\n"
        f"mounts:\n  - source: {project}\n    target: /home/ubuntu/project\n"
        f"    backup: {backups}\n    interval: {interval}\n"
        "agents:\n  claude:\n    type: claude\n    default_args: [--from-config]\n"
        "    env:\n      AGENT_TOKEN: ${TEST_AGENT_TOKEN}\n      PLAIN: plain-value\n"
    )


def install_stand_in(home: Path, binary: str = "claude") -> None:
    script = home / ".local" / "bin" / binary
    write(script, STAND_IN)
    script.chmod(0o755)


@pytest.fixture
def setup(tmp_path: Path, multipass_env: dict[str, str], multipass: Multipass) -> Setup:
    if REAL:
        pytest.skip("these tests look into the double's guest folders")
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is needed for the Multipass double")
    project = tmp_path / "work" / "project"
    write(project / "README.md", "hello\n")
    write(project / "src" / "main.py", "print('hi')\n")
    write(project / "src" / "deep" / "data.txt", "data\n")
    backups = tmp_path / "backups"
    vm = "agentvm"
    config = write(tmp_path / "config.yaml", config_text(project, backups, vm))
    env = {**multipass_env, "TEST_AGENT_TOKEN": SECRET, "CONFIG_PATH": str(config)}
    for step in (("create-vms", "--ignore-capacity"), ("mount", "--all")):
        result = agsekit(env, *step)
        assert result.returncode == 0, result.stderr
    found = Setup(env, multipass, project, backups, config, vm)
    install_stand_in(found.guest_home)
    return found
