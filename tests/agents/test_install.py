"""install-agents and up against the Multipass double (issue 5; part D: agents apart)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.agents.conftest import (
    VERSION,
    Setup,
    config_text,
    install_stand_in,
    installed,
    needs_registry,
)
from tests.fakes.fake_multipass.guest import host_id
from tests.helpers import write

AGSEKIT = [sys.executable, "-m", "agsekit"]


def set_agents(setup: Setup, agents_yaml: str) -> None:
    setup.config.write_text(config_text(setup.project, setup.backups, setup.vm, agents_yaml))


def recorded(setup: Setup) -> dict[str, dict[str, dict[str, object]]]:
    path = Path(setup.env["HOME"]) / ".local" / "state" / "agsekit" / "agents.json"
    data: dict[str, dict[str, dict[str, object]]] = json.loads(path.read_text())
    return data


def test_installed_agent_is_only_checked_and_its_version_recorded(setup: Setup) -> None:
    result = setup.run("install-agents")
    assert result.returncode == 0, result.stderr
    assert f"claude: Claude Code {VERSION} already installed" in result.stdout
    assert "installing" not in result.stdout
    assert "creating" not in result.stdout  # users made once: a second run only checks
    assert recorded(setup)[setup.vm]["claude"] == {
        "version": VERSION,
        "installed": recorded(setup)[setup.vm]["claude"]["installed"],
        "isolated": True,
    }


def test_each_agent_gets_a_user_without_sudo_and_an_install_it_cannot_change(
    bare: Setup,
) -> None:
    install_stand_in(bare, "claude", "claude")
    result = bare.run("install-agents")
    assert result.returncode == 0, result.stderr
    assert "creating the agents' users: agsekit-claude" in result.stdout
    assert "chmod o+x" in result.stdout and "/home/ubuntu" in result.stdout
    checks = {
        "groups": "id -Gn agsekit-claude",
        "sudo": "sudo -u agsekit-claude -- sudo -n true 2>&1; echo $?",
        "program": "stat -c '%U:%G %a' /opt/agsekit/agents/claude/bin/claude",
        "agent-writes": "sudo -u agsekit-claude -- test -w /opt/agsekit/agents/claude/bin/claude"
        " && echo yes || echo no",
        "user-writes": "test -w /opt/agsekit/agents/claude/bin/claude && echo yes || echo no",
        "home": "sudo stat -c '%U %a' /home/agsekit-claude",
        "mounts": "stat -c %A /home/ubuntu",
    }
    seen = {key: bare.sh(script).stdout.strip() for key, script in checks.items()}
    assert seen["groups"] == "agsekit-claude"  # not sudo, not admin, nothing else
    assert seen["sudo"].endswith("1") and "password is required" in seen["sudo"]
    assert seen["program"] == "root:root 755"
    assert seen["agent-writes"] == "no"
    assert seen["user-writes"] == "no"
    assert seen["home"] == "agsekit-claude 700"
    assert seen["mounts"] == "drwxr-x--x"  # others may pass through, not list


def test_without_passwordless_sudo_agents_are_installed_the_old_way(bare: Setup) -> None:
    install_stand_in(bare, "claude", "claude")
    # a VM whose user needs a password for sudo (a custom image, say)
    assert bare.sh("sudo chmod 0700 /usr/local/lib/fake-multipass/setpriv").returncode == 0
    result = bare.run("install-agents")
    assert result.returncode == 0, result.stderr
    assert "no passwordless sudo" in result.stderr
    assert "read each other's keys" in result.stderr
    assert recorded(bare)[bare.vm]["claude"]["isolated"] is False
    assert bare.sh("id agsekit-claude").returncode != 0


@needs_registry
def test_real_npm_agent_installs_as_root_once_then_is_left_alone(bare: Setup) -> None:
    set_agents(bare, "  codex:\n    type: codex\n")
    first = bare.run("install-agents", "codex")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "installing codex: @openai/codex@latest" in first.stdout
    assert "installed in /opt/agsekit/agents/codex" in first.stdout
    binary = bare.guest_path("/opt/agsekit/agents/codex/bin/codex")
    assert binary.exists()
    assert binary.lstat().st_uid == host_id(0)  # root's in the guest
    version = recorded(bare)[bare.vm]["codex"]["version"]
    second = bare.run("install-agents", "codex")
    assert second.returncode == 0, second.stderr
    assert f"codex: Codex CLI {version} already installed" in second.stdout
    assert "installing" not in second.stdout


@needs_registry
def test_failed_install_shows_the_installers_last_lines(bare: Setup) -> None:
    set_agents(bare, "  codex:\n    type: codex\n    version: 0.0.0-no-such-version\n")
    result = bare.run("install-agents")
    assert result.returncode == 1
    assert "installing codex: @openai/codex@0.0.0-no-such-version failed" in result.stderr
    assert "No matching version" in result.stderr or "ETARGET" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_agent_name_is_a_usage_error(setup: Setup) -> None:
    result = setup.run("install-agents", "nope")
    assert result.returncode == 2
    assert "no agent named 'nope'" in result.stderr


def test_up_brings_everything_up_and_skips_what_is_done(setup: Setup, tmp_path: Path) -> None:
    setup.run("umount", "--all")
    setup.mp.ok("stop", setup.vm)
    bin_dir = tmp_path / "host-tools"
    for tool in ("ssh",):  # what `prepare` looks for besides multipass
        script = write(bin_dir / tool, "#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    service_fakes = Path(__file__).parents[1] / "service" / "fakes"  # never the real systemctl
    env = {
        **setup.env,
        "PATH": f"{service_fakes}:{setup.env['PATH']}:{bin_dir}",
        "AGSEKIT_SERVICE_MANAGER": "systemd",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "AGSEKIT_FAKE_SERVICE_LOG": str(tmp_path / "service-calls"),
        "AGSEKIT_FAKE_SERVICE_STATE": str(tmp_path / "service-state"),
    }
    result = subprocess.run(
        [*AGSEKIT, "up"], env=env, capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "[1/7] host: Multipass, ssh: already installed" in out
    assert "[2/7] create VMs: all VMs exist" in out
    assert f"[3/7] start VMs: started {setup.vm}" in out
    assert "[4/7] provision VMs: no bundles configured" in out
    assert "[5/7] install agents: all agents installed" in out
    assert "[7/7] background service: installed and started" in out
    assert (tmp_path / "xdg-config" / "systemd" / "user" / "agsekit.service").exists()
    again = subprocess.run(
        [*AGSEKIT, "up"], env=env, capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert "[3/7] start VMs: all VMs running" in again.stdout
    assert "[6/7] mount folders: all folders mounted" in again.stdout
    assert "[7/7] background service: already running" in again.stdout


def test_isolation_none_keeps_the_old_way(bare: Setup) -> None:
    set_agents(bare, "  claude:\n    type: claude\n    isolation: none\n")
    install_stand_in(bare, "claude", "claude")
    installed(bare)
    assert recorded(bare)[bare.vm]["claude"]["isolated"] is False
    assert bare.sh("id agsekit-claude").returncode != 0
    result = bare.run("run", "claude", "exit", "0")
    assert result.returncode == 0, result.stderr
    assert (bare.guest_home / "evidence" / "user").read_text().strip() == "ubuntu"


def test_install_agents_vm_takes_only_that_vms_agents(setup: Setup) -> None:
    agents = "  claude:\n    type: claude\n  codex:\n    type: codex\n    vm: elsewhere\n"
    text = config_text(setup.project, setup.backups, setup.vm, agents)
    setup.config.write_text(text.replace("mounts:", "  elsewhere:\n    cpu: 1\nmounts:", 1))
    everything = setup.run("install-agents")
    assert everything.returncode != 0  # the VM elsewhere does not exist
    only = setup.run("install-agents", "--vm", setup.vm)
    assert only.returncode == 0, only.stderr
    assert f"claude: Claude Code {VERSION} already installed" in only.stdout
    assert "codex" not in only.stdout + only.stderr
    unknown = setup.run("install-agents", "--vm", "nope")
    assert unknown.returncode == 2
    assert f"no VM named 'nope' in the config (known: {setup.vm}, elsewhere)" in unknown.stderr
    none = setup.run("install-agents", "codex", "--vm", setup.vm)
    assert none.returncode == 2
    assert f"none of these agents runs in the VM {setup.vm}" in none.stderr


@needs_registry
def test_a_new_version_replaces_the_old_in_place_and_says_old_to_new(bare: Setup) -> None:
    old, new = "0.1.2504172351", "0.1.2505172129"  # two small early releases of codex
    set_agents(bare, f"  codex:\n    type: codex\n    version: {old}\n")
    first = bare.run("install-agents", "codex")
    assert first.returncode == 0, first.stdout + first.stderr
    assert recorded(bare)[bare.vm]["codex"]["version"] == old
    set_agents(bare, f"  codex:\n    type: codex\n    version: {new}\n")
    second = bare.run("install-agents", "codex")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"codex: Codex CLI {old} -> {new} in /opt/agsekit/agents/codex" in second.stdout
    assert recorded(bare)[bare.vm]["codex"]["version"] == new
    again = bare.run("install-agents", "--upgrade", "codex")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"codex: Codex CLI {new} reinstalled (the pinned version)" in again.stdout
