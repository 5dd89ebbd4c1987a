"""A hostile agent in the VM (issue "The agent is hostile", part D): one agent must not get
another's key, by its environment, its program, a file, or sudo. Two stand-in agents,
claude and codex, each with a key of its own, share one VM."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.agents.conftest import (
    OTHER_SECRET,
    SECRET,
    Setup,
    config_text,
    files_containing,
    guest_file,
    wait_for,
)
from tests.helpers import start_cli

SHARE = "--share-mount"


def test_an_agent_runs_as_its_own_user_without_sudo(two: Setup) -> None:
    result = two.run("run", SHARE, "claude", "sudo")
    assert result.returncode == 0, result.stderr
    evidence = two.evidence_of("claude")
    assert (evidence / "user").read_text().strip() == "agsekit-claude"
    assert (evidence / "groups").read_text().split() == ["agsekit-claude"]
    assert (evidence / "sudo-status").read_text().strip() == "1"


def test_an_agent_cannot_read_another_agents_environment(two: Setup) -> None:
    claude = start_cli("run", SHARE, "claude", "wait", "a", env=two.env, cwd=two.project)
    try:
        wait_for(two.evidence_of("claude") / "started-a")
        stolen = two.run("run", SHARE, "codex", "steal-environ")
        assert stolen.returncode == 0, stolen.stderr
        (two.evidence_of("claude") / "go-a").touch()
        _, err = claude.communicate(timeout=60)
    finally:
        if claude.poll() is None:
            claude.kill()
    assert claude.returncode == 0, err
    found = two.evidence_of("codex") / "stolen"
    seen = found.read_text() if found.exists() else ""
    assert f"AGENT_TOKEN={OTHER_SECRET}" in seen  # its own, which it may read
    assert SECRET not in seen, "codex read claude's key from /proc"


def test_an_agent_cannot_replace_another_agents_program(two: Setup) -> None:
    attack = two.run("run", SHARE, "codex", "replace-programs", "claude")
    assert attack.returncode == 0, attack.stderr
    attempts = (two.evidence_of("codex") / "replaced").read_text()
    assert "replaced" not in attempts.replace("refused", ""), attempts
    victim = two.run("run", SHARE, "claude", "exit", "0")
    assert victim.returncode == 0, victim.stderr
    assert not two.guest_path("/tmp/stolen-token").exists()
    assert files_containing(two.state, SECRET) == []


WATCH = r"""
mkdir -p /root/seen
while [ ! -e /root/stop ]; do
  for file in /dev/shm/* /tmp/* /var/tmp/* /run/*; do
    [ -f "$file" ] && cp "$file" "/root/seen/$(basename "$file").$RANDOM" 2>/dev/null
  done
  sleep 0.005
done
"""


def test_no_file_in_the_vm_ever_holds_a_key_not_even_for_root(two: Setup) -> None:
    """The values travel on the launcher's stdin only: root, watching every folder a file
    could be handed over in, sees none."""
    watcher = subprocess.Popen(
        ["multipass", "exec", "-n", two.vm, "--", "sudo", "bash", "-c", WATCH],
        env=two.env,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(two.guest_path("/root/seen"))
        for _ in range(3):
            result = two.run("run", SHARE, "claude", "exit", "0")
            assert result.returncode == 0, result.stderr
        guest_file(two.guest_path("/root/stop"), "", uid=0)
        assert watcher.wait(timeout=30) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert files_containing(two.state, SECRET) == []


def test_agents_with_keys_on_one_vms_folders_are_refused_unless_told(two: Setup) -> None:
    refused = two.run("run", "claude", "exit", "0")
    assert refused.returncode == 2
    assert "claude has keys and shares the folders of agentvm with codex" in refused.stderr
    assert "git hook" in refused.stderr
    assert "--share-mount" in refused.stderr
    assert not (two.evidence_of("claude") / "pwd").exists()
    check = two.run("config-check")
    assert check.returncode == 0, check.stderr
    assert "refuses that unless --share-mount" in check.stderr


def test_a_folder_the_agent_cannot_reach_is_a_clear_error(setup: Setup) -> None:
    assert setup.sh("sudo chmod 750 /home/ubuntu").returncode == 0  # closed again
    refused = setup.run("run", "claude", "exit", "0")
    assert refused.returncode == 126
    assert "cannot reach /home/ubuntu/project" in refused.stderr
    assert "agsekit install-agents" in refused.stderr
    assert setup.run("install-agents").returncode == 0
    assert setup.run("run", "claude", "exit", "0").returncode == 0


def test_config_check_and_run_warn_when_an_agent_runs_as_the_vms_user(two: Setup) -> None:
    agents = two.config.read_text().split("agents:\n", 1)[1]
    agents = agents.replace("    type: codex\n", "    type: codex\n    isolation: none\n")
    two.config.write_text(config_text(two.project, two.backups, two.vm, agents))
    check = two.run("config-check")
    assert check.returncode == 0, check.stderr
    assert "the agents in agentvm (claude, codex) can read each other's keys" in check.stderr
    assert "codex runs as the VM's user (isolation: none)" in check.stderr
    run = two.run("run", SHARE, "claude", "exit", "0")
    assert run.returncode == 0, run.stderr
    assert "can read each other's keys" in run.stderr


def test_agents_installed_the_old_way_are_warned_about(two: Setup) -> None:
    # what an older agsekit recorded (no "isolated"), and a VM where the new install is gone
    records = Path(two.env["HOME"]) / ".local" / "state" / "agsekit" / "agents.json"
    old = {two.vm: {n: {"version": "2.0.1", "installed": "x"} for n in ("claude", "codex")}}
    records.write_text(json.dumps(old))
    check = two.run("config-check")
    assert "claude was installed the old way, as the VM's user" in check.stderr
    assert "codex was installed the old way, as the VM's user" in check.stderr
    assert two.sh("sudo rm -r /opt/agsekit/agents/claude").returncode == 0
    run = two.run("run", SHARE, "claude", "exit", "0")
    assert run.returncode == 0, run.stderr
    assert "can read each other's keys" in run.stderr
    assert "claude was installed the old way and runs as ubuntu" in run.stderr
    assert (two.guest_home / "evidence" / "user").read_text().strip() == "ubuntu"
    assert os.path.exists(two.guest_home / "evidence" / "token-sha")
