"""The agents' fixtures (a VM in the Multipass double with stand-in agents), and a real
proxy on loopback with a loopback web server behind it."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.conftest import Multipass, Setup, agsekit, bare, multipass, multipass_env, setup

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
