"""port-forwarding through a real sshd standing in for the VM's: bytes both ways through
each type, the forwards back after the VM restarts at another address, a clean Ctrl+C,
and a taken host port named with its process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.network.conftest import SshVm
from tests.network.sshd import EchoServer, accepts, exchange, free_port, poll, socks5_exchange


@dataclass
class Services:
    host: EchoServer  # on the host, reached from the VM (remote)
    vm: EchoServer  # "in the VM", reached from the host (local)
    target: EchoServer  # reached through the VM's SOCKS proxy (socks5)
    local_port: int
    remote_port: int
    socks_port: int

    def forwards(self) -> str:
        return (
            f"      - {{type: local, host-addr: '127.0.0.1:{self.local_port}', "
            f"vm-addr: '127.0.0.1:{self.vm.port}'}}\n"
            f"      - {{type: remote, host-addr: '127.0.0.1:{self.host.port}', "
            f"vm-addr: '127.0.0.1:{self.remote_port}'}}\n"
            f"      - {{type: socks5, vm-addr: '127.0.0.1:{self.socks_port}'}}\n"
        )

    def all_pass(self) -> bool:
        return (
            exchange("127.0.0.1", self.local_port, b"to the VM", b"vm:")
            and exchange("127.0.0.1", self.remote_port, b"to the host", b"host:")
            and socks5_exchange(self.socks_port, self.target.port, b"via socks", b"target:")
        )


@pytest.fixture
def services() -> Iterator[Services]:
    found = Services(
        EchoServer(b"host:"),
        EchoServer(b"vm:"),
        EchoServer(b"target:"),
        free_port(),
        free_port(),
        free_port(),
    )
    yield found
    for server in (found.host, found.vm, found.target):
        server.close()


def start_portforward(setup: SshVm, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agsekit", "portforward"],
            env=setup.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=60)


def test_each_type_carries_bytes_and_comes_back_after_a_restart(
    ssh_vm: SshVm, services: Services, tmp_path: Path
) -> None:
    ssh_vm.configure(services.forwards())
    log = tmp_path / "portforward.log"
    proc = start_portforward(ssh_vm, log)
    try:
        poll(services.all_pass, "all three forwards", timeout=90)
        shown = ssh_vm.run("status")
        assert shown.returncode == 0, shown.stderr
        assert f"forwards (portforward, pid {proc.pid}): up through 127.0.0.1:" in shown.stdout
        assert f"local: host 127.0.0.1:{services.local_port} -> VM" in shown.stdout

        ssh_vm.sshd.stop()  # the VM goes down...
        ssh_vm.mp.ok("restart", ssh_vm.vm)
        poll(lambda: not accepts("127.0.0.1", services.remote_port), "the VM side to close")
        ssh_vm.move_to("127.0.0.2")  # ...and comes back at another address
        ssh_vm.sshd.start("127.0.0.2")
        poll(services.all_pass, "the forwards after the restart", timeout=120)
        assert "up through 127.0.0.2:" in ssh_vm.run("status").stdout
    finally:
        code = stop(proc)
    assert code == 130, log.read_text()
    assert not accepts("127.0.0.1", services.local_port)  # its ssh ended with it
    assert "not kept up" in ssh_vm.run("status").stdout


def test_a_taken_host_port_names_its_process(ssh_vm: SshVm, services: Services) -> None:
    ssh_vm.configure(services.forwards())
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", services.local_port))
        holder.listen()
        result = ssh_vm.run("portforward")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        f"agsekit: error: host port 127.0.0.1:{services.local_port} is already in use by "
    )
    assert lines[0].endswith(f"(pid {os.getpid()})")


def test_no_forwards_configured_is_a_usage_error(ssh_vm: SshVm) -> None:
    result = ssh_vm.run("portforward")
    assert result.returncode == 2
    assert "no port-forwarding configured" in result.stderr


def test_the_service_keeps_them_up_and_follows_the_config(
    ssh_vm: SshVm, services: Services, tmp_path: Path
) -> None:
    ssh_vm.configure(services.forwards())
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agsekit", "daemon", "run"],
            env=ssh_vm.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        poll(services.all_pass, "the service's forwards", timeout=90)
        assert f"forwards (service, pid {proc.pid}): up" in ssh_vm.run("status").stdout
        second = ssh_vm.run("portforward")
        assert second.returncode == 75
        assert f"already kept up by service (pid {proc.pid})" in second.stderr
        ssh_vm.configure("")  # the service reloads the config: no forwards any more
        poll(lambda: not accepts("127.0.0.1", services.local_port), "the forwards to stop")
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=60)
    assert "forwards up through 127.0.0.1:" in log.read_text()


def test_a_taken_vm_port_is_shown_and_retried(
    ssh_vm: SshVm, services: Services, tmp_path: Path
) -> None:
    ssh_vm.configure(services.forwards())
    holder = socket.socket()
    holder.bind(("127.0.0.1", services.remote_port))  # taken "in the VM"
    holder.listen()
    proc = start_portforward(ssh_vm, tmp_path / "portforward.log")
    try:
        wanted = f"remote port forwarding failed for listen port {services.remote_port}"
        poll(lambda: wanted in ssh_vm.run("status").stdout, "the failure in status")
        assert "DOWN" in ssh_vm.run("status").stdout
        holder.close()
        poll(services.all_pass, "the forwards once the port is free", timeout=120)
    finally:
        holder.close()
        stop(proc)


def test_the_ssh_of_a_killed_portforward_is_ended_by_the_next(
    ssh_vm: SshVm, services: Services, tmp_path: Path
) -> None:
    ssh_vm.configure(services.forwards())
    first = start_portforward(ssh_vm, tmp_path / "first.log")
    try:
        poll(services.all_pass, "the first runner's forwards", timeout=90)
    finally:
        first.kill()  # SIGKILL: no chance to stop its ssh, which leads its own session
        first.wait(timeout=30)
    second = start_portforward(ssh_vm, tmp_path / "second.log")
    try:
        poll(lambda: "forwards up" in (tmp_path / "second.log").read_text(), "the second runner")
        assert services.all_pass()
        assert f"(portforward, pid {second.pid}): up" in ssh_vm.run("status").stdout
    finally:
        code = stop(second)
    assert code == 130, (tmp_path / "second.log").read_text()
    assert not accepts("127.0.0.1", services.local_port)  # no ssh of either is left


def test_a_holder_named_with_control_characters_is_shown_escaped(
    ssh_vm: SshVm, services: Services
) -> None:
    ssh_vm.configure(services.forwards())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import ctypes, socket, sys\n"
            "ctypes.CDLL(None).prctl(15, b'\\x1b[2J\\x1b]0;x\\x07\\nfake', 0, 0, 0)\n"
            f"s = socket.create_server(('127.0.0.1', {services.local_port}))\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"ready\n"
        result = ssh_vm.run("portforward")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert result.stderr.splitlines()[0].endswith(
        f'in use by "\\033[2J\\033]0;x\\a\\nfake" (pid {holder.pid})'
    )
