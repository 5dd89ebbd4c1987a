"""The agents' fixtures (a VM in the Multipass double with stand-in agents), and a real
proxy on loopback with a loopback web server behind it."""

from __future__ import annotations

import getpass
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.conftest import Multipass, Setup, agsekit, bare, multipass, multipass_env, setup
from tests.network.sshd import Sshd, free_port, sshd_program
from tests.vm.conftest import REAL

__all__ = ["Multipass", "Setup", "agsekit", "bare", "multipass", "multipass_env", "setup"]

PROXY = Path(__file__).resolve().parent.parent / "fakes" / "proxy.py"
PAGE = "hello through the proxy"


@dataclass
class RunningProxy:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def url(self, scheme: str = "http", auth: str = "") -> str:
        return f"{scheme}://{auth + '@' if auth else ''}127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def start_proxy(
    folder: Path, *, target: str | None = None, auth: str | None = None
) -> RunningProxy:
    folder.mkdir(parents=True, exist_ok=True)
    port_file, log = folder / "port", folder / "proxy.log"
    argv = [sys.executable, str(PROXY), "--port-file", str(port_file), "--log", str(log)]
    argv += ["--target", target] if target else []
    argv += ["--auth", auth] if auth else []
    process = subprocess.Popen(argv)
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the test proxy did not start")
        time.sleep(0.05)
    return RunningProxy(int(port_file.read_text()), log, process)


@pytest.fixture
def proxy_factory(tmp_path: Path) -> Iterator[list[RunningProxy]]:
    started: list[RunningProxy] = []
    yield started
    for item in started:
        item.process.terminate()
        item.process.wait(timeout=10)


@dataclass
class SshVm:
    """A VM of the Multipass double whose sshd is a real one on loopback."""

    env: dict[str, str]
    mp: Multipass
    vm: str
    config: Path
    sshd: Sshd

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return agsekit(self.env, *args, input=input)

    def configure(self, forwards: str) -> None:
        self.config.write_text(
            f"vms:\n  {self.vm}:\n    cpu: 1\n    ram: 512M\n    disk: 3G\n"
            + (f"    port-forwarding:\n{forwards}" if forwards else "")
        )

    def move_to(self, host: str) -> None:
        """The VM's address as the double reports it."""
        folder = self.mp.state / "ipv4"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / self.vm).write_text(host + "\n")

    @property
    def authorized_keys(self) -> Path:
        return self.mp.state / "homes" / self.vm / ".ssh" / "authorized_keys"


@pytest.fixture
def ssh_vm(tmp_path: Path, multipass_env: dict[str, str], multipass: Multipass) -> Iterator[SshVm]:
    if REAL:
        pytest.skip("the VM's sshd is a test's own here")
    if sshd_program() is None or shutil.which("ssh") is None:
        pytest.skip("OpenSSH (ssh and sshd) is needed: apt-get install openssh-server")
    if shutil.which("bwrap") is None and os.geteuid() != 0:
        pytest.skip("bubblewrap is needed for the Multipass double's exec")
    vm = "sshvm"
    multipass.launch(vm)
    port = free_port()
    env = {
        **multipass_env,
        "CONFIG_PATH": str(tmp_path / "config.yaml"),
        "AGSEKIT_TEST_SSH_PORT": str(port),
        "AGSEKIT_TEST_SSH_USER": getpass.getuser(),
    }
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("XDG_STATE_HOME", None)
    sshd = Sshd(
        tmp_path / "sshd", multipass.state / "homes" / vm / ".ssh" / "authorized_keys", port
    )
    setup = SshVm(env, multipass, vm, tmp_path / "config.yaml", sshd)
    setup.configure("")
    setup.move_to("127.0.0.1")
    sshd.start()
    try:
        yield setup
    finally:
        sshd.stop()
