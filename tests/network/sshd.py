"""A real OpenSSH server on loopback standing in for a VM's sshd, and loopback servers
to push bytes through forwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

SSHD_PATHS = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/opt/homebrew/sbin/sshd")
TIMEOUT = 60.0


def sshd_program() -> str | None:
    found = shutil.which("sshd")
    return found or next((p for p in SSHD_PATHS if os.access(p, os.X_OK)), None)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def poll(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Wait until check() holds; the timeout is generous, never a speed assertion."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


class Sshd:
    """sshd -D -e with its own host key and config; AuthorizedKeysFile is the VM user's
    authorized_keys in the Multipass double, so only a key agsekit put there logs in."""

    def __init__(self, folder: Path, authorized_keys: Path, port: int) -> None:
        self.folder = folder
        self.authorized_keys = authorized_keys
        self.host = "127.0.0.1"
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.host_key = folder / "host_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)],
            check=True,
        )

    def start(self, host: str | None = None) -> None:
        self.host = host or self.host
        program = sshd_program()
        assert program is not None
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation
        config = self.folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress {self.host}\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\nPidFile none\n"
            "PermitRootLogin yes\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nAllowTcpForwarding yes\n"
        )
        log = (self.folder / "sshd.log").open("ab")
        self.process = subprocess.Popen(
            [program, "-D", "-e", "-f", str(config)], stdout=log, stderr=log
        )
        log.close()
        poll(lambda: accepts(self.host, self.port), f"sshd on {self.host}:{self.port}")

    def stop(self) -> None:
        """As a VM going down: the server and every session it serves end."""
        if self.process is None:
            return
        doomed = [self.process.pid, *descendants(self.process.pid)]
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        tag: bytes = self.server.tag  # type: ignore[attr-defined]
        while data := self.request.recv(65536):
            self.request.sendall(tag + data)


class EchoServer:
    """Answers every chunk with its tag and the chunk: bytes that went both ways, and
    through which server."""

    def __init__(self, tag: bytes) -> None:
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
        self.server.daemon_threads = True
        self.server.tag = tag  # type: ignore[attr-defined]
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def exchange(host: str, port: int, payload: bytes, tag: bytes) -> bool:
    """Send payload to host:port and read back tag + payload."""
    try:
        with socket.create_connection((host, port), timeout=10) as conn:
            conn.sendall(payload)
            wanted = len(tag) + len(payload)
            got = b""
            while len(got) < wanted and (chunk := conn.recv(65536)):
                got += chunk
            return got == tag + payload
    except OSError:
        return False


def socks5_exchange(proxy_port: int, target_port: int, payload: bytes, tag: bytes) -> bool:
    """A SOCKS5 CONNECT (no authentication) to 127.0.0.1:target_port through the proxy."""
    try:
        with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as conn:
            conn.sendall(b"\x05\x01\x00")
            if _read(conn, 2) != b"\x05\x00":
                return False
            conn.sendall(
                b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + target_port.to_bytes(2, "big")
            )
            reply = _read(conn, 10)
            if len(reply) < 2 or reply[1] != 0:
                return False
            conn.sendall(payload)
            return _read(conn, len(tag) + len(payload)) == tag + payload
    except OSError:
        return False


def _read(conn: socket.socket, size: int) -> bytes:
    got = b""
    while len(got) < size and (chunk := conn.recv(size - len(got))):
        got += chunk
    return got
