"""The double's modelled guest: users, root and sudo, one process table per instance, and
classic mounts with Multipass' own rules (sshfs in the guest, the checks on the host)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.fakes.fake_multipass.guest import missing
from tests.vm.conftest import REAL, Multipass

pytestmark = pytest.mark.skipif(
    REAL or missing() is not None, reason=f"the guest model needs {missing() or 'the double'}"
)


def sh(multipass: Multipass, name: str, script: str) -> subprocess.CompletedProcess[str]:
    return multipass.run("exec", "-n", name, "--", "bash", "-c", script)


def with_agent_user(multipass: Multipass) -> str:
    name = multipass.launch()
    made = sh(multipass, name, "sudo useradd --create-home --user-group --shell /bin/bash agent")
    assert made.returncode == 0, made.stderr
    return name


def test_only_the_default_user_has_sudo(multipass: Multipass) -> None:
    name = with_agent_user(multipass)
    assert sh(multipass, name, "sudo id -u").stdout.strip() == "0"
    groups = sh(multipass, name, "id -Gn agent").stdout.split()
    assert groups == ["agent"]
    refused = sh(multipass, name, "sudo -u agent -- sudo -n true")
    assert refused.returncode == 1
    assert "a password is required" in refused.stderr
    assert sh(multipass, name, "sudo -u agent -- id -un").stdout.strip() == "agent"


def test_opt_is_writable_by_root_only(multipass: Multipass) -> None:
    name = with_agent_user(multipass)
    assert sh(multipass, name, "touch /opt/by-ubuntu").returncode != 0
    assert sh(multipass, name, "sudo -u agent -- touch /opt/by-agent").returncode != 0
    assert sh(multipass, name, "sudo touch /opt/by-root").returncode == 0
    listing = sh(multipass, name, "ls -l /opt").stdout
    assert "root root" in listing
    assert "by-ubuntu" not in listing and "by-agent" not in listing


def test_homes_are_private_and_sudo_keeps_only_what_it_is_told(multipass: Multipass) -> None:
    name = with_agent_user(multipass)
    assert sh(multipass, name, "sudo -u agent -- ls /home/ubuntu").returncode != 0
    assert sh(multipass, name, "ls /home/agent").returncode != 0
    script = (
        "export KEPT=k DROPPED=d; sudo -u agent --preserve-env=KEPT -- "
        "bash -c 'echo \"$KEPT-${DROPPED:-none}-$HOME-$USER\"'"
    )
    assert sh(multipass, name, script).stdout.strip() == "k-none-/home/agent-agent"


def test_sessions_share_one_process_table(multipass: Multipass) -> None:
    name = with_agent_user(multipass)
    script = "export TOKEN=hidden-value; exec sudo -u agent --preserve-env=TOKEN -- sleep 30"
    proc = subprocess.Popen(
        ["multipass", "exec", "-n", name, "--", "bash", "-c", script],
        env=multipass.env,
        stdin=subprocess.DEVNULL,
    )
    try:
        pid = ""
        deadline = time.monotonic() + 20
        while not pid and time.monotonic() < deadline:
            pid = sh(multipass, name, "pgrep -u agent -x sleep || true").stdout.strip()
        assert pid, "another session's process is not visible"
        environ = f"/proc/{pid}/environ"
        assert sh(multipass, name, f"cat {environ}").returncode != 0  # ubuntu, without sudo
        assert "hidden-value" in sh(multipass, name, f"sudo cat {environ}").stdout
        assert "hidden-value" in sh(multipass, name, f"sudo -u agent cat {environ}").stdout
        multipass.ok("stop", name)
        assert proc.wait(timeout=20) != 0  # a stop ends every guest process
        assert sh(multipass, name, "pgrep -x sleep").returncode == 1
    finally:
        if proc.poll() is None:
            proc.kill()


def mounted(multipass: Multipass, workdir: Path, *maps: str) -> tuple[str, Path]:
    name = with_agent_user(multipass)
    source = workdir / "proj"
    source.mkdir(parents=True)
    multipass.ok("mount", *maps, str(source), f"{name}:/home/ubuntu/proj")
    return name, source


def test_other_guest_users_need_only_to_reach_the_mount(
    multipass: Multipass, workdir: Path
) -> None:
    name, source = mounted(multipass, workdir)
    (source / "read-only.txt").write_text("kept\n")
    (source / "read-only.txt").chmod(0o444)
    append = "sudo -u agent -- bash -c 'echo more >> /home/ubuntu/proj/read-only.txt'"
    blocked = sh(multipass, name, append)
    assert blocked.returncode != 0  # /home/ubuntu is 750, as on Ubuntu 24.04
    assert sh(multipass, name, "sudo chmod o+x /home/ubuntu").returncode == 0
    # no mapping for the agent's uid, no check of the mode: sshfs has allow_other and no
    # default_permissions, and the host side looks only at the host owner
    done = sh(multipass, name, append)
    assert done.returncode == 0, done.stderr
    assert (source / "read-only.txt").read_text() == "kept\nmore\n"
    made = sh(multipass, name, "sudo -u agent -- mkdir /home/ubuntu/proj/by-agent")
    assert made.returncode == 0, made.stderr
    info = (source / "by-agent").stat()
    assert (info.st_uid, info.st_gid) == (source.stat().st_uid, source.stat().st_gid)


def test_files_of_unmapped_host_owners_are_refused(multipass: Multipass, workdir: Path) -> None:
    name, source = mounted(multipass, workdir)
    other = source / "other.txt"
    other.write_text("not yours\n")
    os.chown(other, 4242, 4242)
    refused = sh(multipass, name, "cat /home/ubuntu/proj/other.txt")
    assert refused.returncode != 0
    assert "not yours" not in refused.stdout
    assert sh(multipass, name, "stat -c %u /home/ubuntu/proj/other.txt").stdout.strip() == "65534"
    mine = sh(multipass, name, "stat -c %U:%G /home/ubuntu/proj")
    assert mine.stdout.strip() == "ubuntu:ubuntu"


def test_several_mappings_serve_several_host_owners(multipass: Multipass, workdir: Path) -> None:
    uid, gid = os.getuid(), os.getgid()
    maps = ["-u", f"{uid}:1000", "-u", "4242:1001", "-g", f"{gid}:1000", "-g", "4242:1001"]
    name, source = mounted(multipass, workdir, *maps)
    other = source / "other"
    other.mkdir()
    os.chown(other, 4242, 4242)
    assert sh(multipass, name, "stat -c %u:%g /home/ubuntu/proj/other").stdout.strip() == (
        "1001:1001"
    )
    assert sh(multipass, name, "echo x > /home/ubuntu/proj/other/new").returncode == 0
    created = (other / "new").stat()
    assert (created.st_uid, created.st_gid) == (4242, 4242)  # the parent's host owner
    details = json.loads(multipass.ok("info", "--format", "json", name))["info"][name]
    assert details["mounts"]["/home/ubuntu/proj"]["uid_mappings"] == [f"{uid}:1000", "4242:1001"]


def test_mappings_are_one_to_one(multipass: Multipass, workdir: Path) -> None:
    name = multipass.launch()
    source = workdir / "proj"
    source.mkdir(parents=True)
    twice = multipass.run("mount", "-u", "0:1000", "-u", "0:1001", str(source), f"{name}:/x")
    assert twice.returncode == 2
    assert "Mount cannot apply mapping with duplicate ids" in twice.stderr
    named = multipass.run("mount", "-u", "0:default", str(source), f"{name}:/x")
    assert named.returncode == 1
    assert "Invalid UID map given: 0:default" in named.stderr
