"""A missing VM, mount or agent: at a terminal a numbered list to choose from (a wrong
answer is asked again); without one the command fails as before."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect

from tests.helpers import run_cli
from tests.vm.conftest import Multipass, agsekit


def terminal(env: dict[str, str], *args: str, cwd: Path) -> pexpect.spawn[str]:
    return pexpect.spawn(
        sys.executable,
        ["-m", "agsekit", *args],
        env=env,
        cwd=str(cwd),
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 200),
    )


def ended(child: pexpect.spawn[str]) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert "Traceback" not in (child.before or "")
    return int(child.exitstatus if child.exitstatus is not None else -1)


def two_mounts(tmp: Path, vm: str, extra: str = "") -> Path:
    for name in ("alpha", "beta"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    config = tmp / "config.yaml"
    config.write_text(
        f"vms:\n  {vm}:\n    cpu: 1\n    ram: 512M\n    disk: 3G\n{extra}mounts:\n"
        f"  - source: {tmp / 'alpha'}\n    target: /home/ubuntu/alpha\n"
        f"  - source: {tmp / 'beta'}\n    target: /home/ubuntu/beta\n"
        "agents:\n  claude: {type: claude}\n  codex: {type: codex}\n"
    )
    return config


def test_mount_outside_every_mount_offers_the_mounts(
    multipass: Multipass, workdir: Path, tmp_path: Path
) -> None:
    vm = multipass.launch()
    config = two_mounts(workdir, vm)
    env = {**multipass.env, "CONFIG_PATH": str(config)}
    plain = agsekit(env, "mount", cwd=tmp_path)
    assert plain.returncode == 2
    assert "is not inside a configured mount" in plain.stderr
    child = terminal(env, "mount", cwd=tmp_path)
    child.expect("Which mount\\?")
    child.expect("2\\) " + str(workdir / "beta"))
    child.expect("Mount number")
    child.sendline("7")
    child.expect("7 is not in the range 1<=x<=2")
    child.sendline("2")
    assert ended(child) == 0
    mounts = json.loads(multipass.ok("info", vm, "--format", "json"))["info"][vm]["mounts"]
    assert list(mounts) == ["/home/ubuntu/beta"]


def test_destroy_vm_without_a_name_offers_the_vms(multipass: Multipass, workdir: Path) -> None:
    vm = multipass.launch()
    config = two_mounts(workdir, vm)
    env = {**multipass.env, "CONFIG_PATH": str(config)}
    child = terminal(env, "destroy-vm", cwd=workdir)
    child.expect("no VM was named. Which VM\\?")
    child.expect("VM number")
    child.sendline("1")
    child.expect(f"Delete the VM {vm}")
    child.sendline("y")
    assert ended(child) == 0
    assert json.loads(multipass.ok("list", "--format", "json"))["list"] == []


def test_run_without_an_agent_offers_the_agents(tmp_path: Path) -> None:
    config = two_mounts(tmp_path, "vm1", extra="    allowed_agents: [claude]\n")
    plain = run_cli("run", "--config", config, cwd=tmp_path / "alpha")
    assert plain.returncode == 2
    assert "no agent was named" in plain.stderr
    assert "agents: claude, codex" in plain.stderr
    env = {k: v for k, v in os.environ.items() if k != "CONFIG_PATH"}
    child = terminal(env, "run", "--config", str(config), cwd=tmp_path / "alpha")
    child.expect("Which agent\\?")
    child.expect("Agent number")
    child.sendline("2")  # codex, which the VM does not allow: the choice was taken
    child.expect("codex may not run in the VM vm1")
    assert ended(child) == 2
