"""install-agents and up against the Multipass double (issue 5)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.conftest import Setup
from tests.helpers import write

AGSEKIT = [sys.executable, "-m", "agsekit"]


def set_agents(setup: Setup, agents_yaml: str) -> None:
    text = setup.config.read_text()
    text = text[: text.index("agents:")] + agents_yaml
    setup.config.write_text(text)


def fake_installed(setup: Setup, package: str, version: str) -> None:
    manifest = setup.guest_home / ".local" / "lib" / "node_modules" / package / "package.json"
    write(manifest, json.dumps({"name": package, "version": version}))


def recorded(setup: Setup) -> dict[str, dict[str, dict[str, str]]]:
    path = Path(setup.env["HOME"]) / ".local" / "state" / "agsekit" / "agents.json"
    data: dict[str, dict[str, dict[str, str]]] = json.loads(path.read_text())
    return data


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on the host")


@needs_node
def test_installed_agent_is_only_checked_and_its_version_recorded(setup: Setup) -> None:
    fake_installed(setup, "@anthropic-ai/claude-code", "2.0.1")
    result = setup.run("install-agents")
    assert result.returncode == 0, result.stderr
    assert "claude: Claude Code 2.0.1 already installed" in result.stdout
    assert "installing" not in result.stdout
    assert recorded(setup)[setup.vm]["claude"]["version"] == "2.0.1"


def registry_reachable() -> bool:
    if shutil.which("npm") is None:
        return False
    try:
        probe = subprocess.run(
            ["npm", "view", "@openai/codex", "version"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


needs_registry = pytest.mark.skipif(
    not registry_reachable(), reason="the npm registry is not reachable"
)


@needs_node
@needs_registry
def test_real_npm_agent_installs_once_then_is_left_alone(setup: Setup) -> None:
    set_agents(setup, "agents:\n  codex:\n    type: codex\n")
    first = setup.run("install-agents", "codex")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "installing codex: @openai/codex@latest" in first.stdout
    binary = setup.guest_home / ".local" / "bin" / "codex"
    assert binary.exists()
    version = recorded(setup)[setup.vm]["codex"]["version"]
    second = setup.run("install-agents", "codex")
    assert second.returncode == 0, second.stderr
    assert f"codex: Codex CLI {version} already installed" in second.stdout
    assert "installing" not in second.stdout


@needs_node
@needs_registry
def test_failed_install_shows_the_installers_last_lines(setup: Setup) -> None:
    set_agents(setup, "agents:\n  codex:\n    type: codex\n    version: 0.0.0-no-such-version\n")
    result = setup.run("install-agents")
    assert result.returncode == 1
    assert "installing codex: @openai/codex@0.0.0-no-such-version failed" in result.stderr
    assert "No matching version" in result.stderr or "ETARGET" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_agent_name_is_a_usage_error(setup: Setup) -> None:
    result = setup.run("install-agents", "nope")
    assert result.returncode == 2
    assert "no agent named 'nope'" in result.stderr


@needs_node
def test_up_brings_everything_up_and_skips_what_is_done(setup: Setup, tmp_path: Path) -> None:
    fake_installed(setup, "@anthropic-ai/claude-code", "2.0.1")
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
    assert "[1/6] host: Multipass, ssh: already installed" in out
    assert "[2/6] create VMs: all VMs exist" in out
    assert f"[3/6] start VMs: started {setup.vm}" in out
    assert "[4/6] install agents: all agents installed" in out
    assert "[6/6] background service: installed and started" in out
    assert (tmp_path / "xdg-config" / "systemd" / "user" / "agsekit.service").exists()
    again = subprocess.run(
        [*AGSEKIT, "up"], env=env, capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert "[3/6] start VMs: all VMs running" in again.stdout
    assert "[5/6] mount folders: all folders mounted" in again.stdout
    assert "[6/6] background service: already running" in again.stdout
