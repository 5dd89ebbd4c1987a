"""`agsekit ssh` against a real sshd standing in for the VM's: the key agsekit makes and
puts into the VM, the pinned host key, and the three forms of arguments."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.network.conftest import SshVm
from tests.network.sshd import EchoServer, accepts, exchange, free_port, poll


def ssh_folder(setup: SshVm) -> Path:
    return Path(setup.env["HOME"]) / ".config" / "agsekit" / "ssh"


def test_plain_ssh_runs_the_vm_users_shell(ssh_vm: SshVm) -> None:
    result = ssh_vm.run("ssh", ssh_vm.vm, input="echo hello-$((6 * 7))\n")
    assert result.returncode == 0, result.stderr
    assert "hello-42" in result.stdout
    folder = ssh_folder(ssh_vm)
    assert stat.S_IMODE((folder / "id_ed25519").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    public = (folder / "id_ed25519.pub").read_text().strip()
    assert ssh_vm.authorized_keys.read_text().splitlines() == [public]
    pinned = (folder / "known_hosts").read_text()
    host_key = (ssh_vm.sshd.host_key.with_suffix(".pub")).read_text().split()[1]
    assert f"agsekit-{ssh_vm.vm} ssh-ed25519 {host_key}" in pinned
    again = ssh_vm.run("ssh", ssh_vm.vm, "--", "true")
    assert again.returncode == 0, again.stderr
    assert ssh_vm.authorized_keys.read_text().splitlines() == [public]  # installed once


def test_a_command_after_double_dash(ssh_vm: SshVm, tmp_path: Path) -> None:
    listed = tmp_path / "listed"
    listed.mkdir()
    (listed / "marker-file.txt").write_text("x")
    result = ssh_vm.run("ssh", ssh_vm.vm, "--", "ls", "-la", str(listed))
    assert result.returncode == 0, result.stderr
    assert "marker-file.txt" in result.stdout
    assert ssh_vm.run("ssh", ssh_vm.vm, "--", "exit", "3").returncode == 3


def test_ssh_options_before_the_command(ssh_vm: SshVm) -> None:
    echo = EchoServer(b"vm-side:")
    port = free_port()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agsekit",
                "ssh",
                ssh_vm.vm,
                "-L",
                f"{port}:127.0.0.1:{echo.port}",
            ],
            env=ssh_vm.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            poll(lambda: accepts("127.0.0.1", port), "ssh's -L listener")
            assert exchange("127.0.0.1", port, b"ping through -L", b"vm-side:")
            out, err = proc.communicate(b"echo shell-ran\n", timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert b"shell-ran" in out
    finally:
        echo.close()


def test_options_then_a_command_without_double_dash(ssh_vm: SshVm) -> None:
    result = ssh_vm.run("ssh", ssh_vm.vm, "-o", "LogLevel=ERROR", "-q", "echo", "-n", "words")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "words"


def test_a_changed_host_key_is_refused(ssh_vm: SshVm) -> None:
    assert ssh_vm.run("ssh", ssh_vm.vm, "--", "true").returncode == 0
    ssh_vm.sshd.stop()
    ssh_vm.sshd.host_key.unlink()
    ssh_vm.sshd.host_key.with_suffix(".pub").unlink()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh_vm.sshd.host_key)],
        check=True,
    )
    ssh_vm.sshd.start()
    result = ssh_vm.run("ssh", ssh_vm.vm, "--", "echo", "should-not-run")
    assert result.returncode != 0
    assert "should-not-run" not in result.stdout
    assert "HOST IDENTIFICATION HAS CHANGED" in result.stderr


def test_a_stopped_vm_is_a_clear_error(ssh_vm: SshVm) -> None:
    ssh_vm.mp.ok("stop", ssh_vm.vm)
    result = ssh_vm.run("ssh", ssh_vm.vm)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"agsekit: error: the VM {ssh_vm.vm} is not running (stopped)",
        f"  hint: start it with `agsekit start-vm {ssh_vm.vm}`",
    ]


def test_destroying_the_vm_unpins_its_host_key(ssh_vm: SshVm) -> None:
    assert ssh_vm.run("ssh", ssh_vm.vm, "--", "true").returncode == 0
    known_hosts = ssh_folder(ssh_vm) / "known_hosts"
    assert f"agsekit-{ssh_vm.vm} " in known_hosts.read_text()
    result = ssh_vm.run("destroy-vm", ssh_vm.vm, "--yes")
    assert result.returncode == 0, result.stderr
    assert f"agsekit-{ssh_vm.vm} " not in known_hosts.read_text()


def test_a_loose_key_folder_is_made_private_again(ssh_vm: SshVm) -> None:
    assert ssh_vm.run("ssh", ssh_vm.vm, "--", "true").returncode == 0
    folder = ssh_folder(ssh_vm)
    folder.chmod(0o777)
    (folder / "id_ed25519").chmod(0o644)
    result = ssh_vm.run("ssh", ssh_vm.vm, "--", "true")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "id_ed25519").stat().st_mode) == 0o600


def _planted_pair(folder: Path) -> str:
    """Another user's key pair where agsekit keeps its own; its public key."""
    folder.mkdir(parents=True)
    key = folder / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key.with_suffix(".pub").read_text().strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_key_folder_of_another_user_is_refused(ssh_vm: SshVm) -> None:
    folder = ssh_folder(ssh_vm)
    planted = _planted_pair(folder)
    for path in (folder, *folder.iterdir()):
        os.chown(path, 65534, 65534)
    result = ssh_vm.run("ssh", ssh_vm.vm, "--", "true")
    assert result.returncode == 1
    assert "belongs to another user (uid 65534)" in result.stderr
    keys = ssh_vm.authorized_keys
    assert not keys.exists() or planted not in keys.read_text()


def test_a_link_planted_at_the_key_is_refused(ssh_vm: SshVm, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    planted = _planted_pair(elsewhere)
    folder = ssh_folder(ssh_vm)
    folder.mkdir(parents=True)
    for name in ("id_ed25519", "id_ed25519.pub"):
        (folder / name).symlink_to(elsewhere / name)
    result = ssh_vm.run("ssh", ssh_vm.vm, "--", "true")
    assert result.returncode == 1
    assert "is not a file of your own" in result.stderr
    keys = ssh_vm.authorized_keys
    assert not keys.exists() or planted not in keys.read_text()


def test_options_of_the_user_do_not_turn_the_pinning_off(ssh_vm: SshVm) -> None:
    assert ssh_vm.run("ssh", ssh_vm.vm, "--", "true").returncode == 0
    ssh_vm.sshd.stop()
    ssh_vm.sshd.host_key.unlink()
    ssh_vm.sshd.host_key.with_suffix(".pub").unlink()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh_vm.sshd.host_key)],
        check=True,
    )
    ssh_vm.sshd.start()
    for weaker in (
        ["-o", "StrictHostKeyChecking=no"],
        ["-oUserKnownHostsFile=/dev/null", "-o", "HostKeyAlias=other"],
        ["-F", "/dev/null"],
    ):
        result = ssh_vm.run("ssh", ssh_vm.vm, *weaker, "--", "echo", "should-not-run")
        assert result.returncode == 255, weaker
        assert "should-not-run" not in result.stdout
        assert "Host key verification failed." in result.stderr


def test_authorized_keys_that_is_a_fifo_is_an_error_not_a_hang(ssh_vm: SshVm) -> None:
    keys = ssh_vm.authorized_keys
    keys.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(keys)  # whoever is the VM's user can put one there
    owner = keys.parent.parent.stat()
    for path in (keys.parent, keys):
        os.chown(path, owner.st_uid, owner.st_gid)
    result = subprocess.run(
        [sys.executable, "-m", "agsekit", "ssh", ssh_vm.vm, "--", "true"],
        env=ssh_vm.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot put agsekit's ssh key into the VM" in result.stderr
    assert "authorized_keys is not a regular file" in result.stderr
