"""The egress proxy on loopback, with real sockets: an allowed name's tunnel carries bytes,
everything else gets 403 and a log line, names that resolve to the host or the LAN are
refused, a TLS ClientHello must name the CONNECT host, and the log stays under its cap.

Names resolve through the proxy's test resolver (hosts_resolver), never through DNS."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agsekit.network.allowlist import Rules
from agsekit.network.egress import EgressProxy
from agsekit.network.egressgate import Decision, Gate, hosts_resolver, is_public
from agsekit.network.egresslog import EgressLog, read_entries

PUBLIC = "93.184.215.14"  # a global address: only ever judged by the gate, never connected to


@dataclass
class Echo:
    port: int
    accepted: list[bytes] = field(default_factory=list)  # what each connection sent


@pytest.fixture
def echo() -> Iterator[Echo]:
    listener = socket.create_server(("127.0.0.1", 0))
    server = Echo(listener.getsockname()[1])

    def serve(conn: socket.socket) -> None:
        got = b""
        with conn:
            while chunk := conn.recv(65536):
                got += chunk
                conn.sendall(chunk)
        server.accepted.append(got)

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener closed: the test is over
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server
    listener.close()


@dataclass
class Proxy:
    port: int
    log: Path

    def entries(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def start(tmp_path: Path, allow: list[str], block: bool, cap: int = 1 << 20) -> Iterator[Proxy]:
    table = {
        "allowed.test": ["127.0.0.1"],
        "api.allowed.test": ["127.0.0.1"],
        "lan.allowed.test": ["10.1.2.3"],
        "mixed.allowed.test": [PUBLIC, "192.168.1.1"],
        "public.allowed.test": [PUBLIC],
        "denied.test": ["127.0.0.1"],
    }
    gate = Gate(Rules.from_entries(allow), block, hosts_resolver(table))
    log = EgressLog(tmp_path / "egress" / "vm.log", "vm", "claude", cap=cap)
    server = EgressProxy(("127.0.0.1", 0), gate, log)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Proxy(server.port, log.path)
    server.shutdown()
    server.server_close()


@pytest.fixture
def open_proxy(tmp_path: Path) -> Iterator[Proxy]:
    """Host and LAN not blocked, so that the loopback echo server stands for an API."""
    yield from start(tmp_path, ["allowed.test", "*.allowed.test"], block=False)


@pytest.fixture
def blocking_proxy(tmp_path: Path) -> Iterator[Proxy]:
    yield from start(tmp_path, ["*.allowed.test", "allowed.test", "127.0.0.1"], block=True)


def connect(proxy: Proxy, target: str) -> tuple[socket.socket, bytes]:
    """A CONNECT; the socket and the proxy's whole answer head."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return sock, head


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_an_allowed_name_tunnels_bytes_both_ways(open_proxy: Proxy, echo: Echo) -> None:
    sock, head = connect(open_proxy, f"allowed.test:{echo.port}")
    with sock:
        assert head.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"ping through the tunnel")
        assert sock.recv(100) == b"ping through the tunnel"
    [entry] = open_proxy.entries()
    assert entry["allowed"] is True
    assert (entry["vm"], entry["agent"], entry["host"], entry["port"]) == (
        "vm",
        "claude",
        "allowed.test",
        echo.port,
    )
    assert {"time", "reason"} <= entry.keys()


def test_a_name_off_the_list_gets_403_and_a_log_line(open_proxy: Proxy, echo: Echo) -> None:
    sock, head = connect(open_proxy, f"denied.test:{echo.port}")
    with sock:
        assert head.startswith(b"HTTP/1.1 403 ")
        assert b"not on the allowlist" in read_all(sock)
    assert open_proxy.entries() == [
        {
            "time": open_proxy.entries()[0]["time"],
            "vm": "vm",
            "agent": "claude",
            "host": "denied.test",
            "port": echo.port,
            "allowed": False,
            "reason": "not on the allowlist",
        }
    ]
    assert echo.accepted == []


@pytest.mark.parametrize(
    "target",
    ["API.Allowed.TEST.:{port}", "api.allowed.test:{port}", "ALLOWED.test:{port}"],
)
def test_names_match_without_case_and_trailing_dot(
    open_proxy: Proxy, echo: Echo, target: str
) -> None:
    sock, head = connect(open_proxy, target.format(port=echo.port))
    with sock:
        assert head.startswith(b"HTTP/1.1 200 "), head


@pytest.mark.parametrize(
    "target",
    [
        "allowed.test.evil:{port}",
        "evilallowed.test:{port}",
        "127.0.0.1:{port}",
        "[::1]:{port}",
        "allowed.test",
        "allowed.test:0",
        "allowed.test:{port}x",
    ],
)
def test_lookalikes_addresses_and_bad_targets_are_refused(
    open_proxy: Proxy, echo: Echo, target: str
) -> None:
    sock, head = connect(open_proxy, target.format(port=echo.port))
    with sock:
        assert head.split(b" ")[1] in (b"403", b"400"), head
    assert [e["allowed"] for e in open_proxy.entries()] == [False]
    assert echo.accepted == []


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("allowed.test", "127.0.0.1 is the host's or a LAN address"),
        ("lan.allowed.test", "10.1.2.3 is the host's or a LAN address"),
        ("mixed.allowed.test", "192.168.1.1 is the host's or a LAN address"),
        ("127.0.0.1", "127.0.0.1 is the host's or a LAN address"),
    ],
)
def test_the_host_and_lan_are_blocked_by_resolved_address(
    blocking_proxy: Proxy, echo: Echo, target: str, why: str
) -> None:
    sock, head = connect(blocking_proxy, f"{target}:{echo.port}")
    with sock:
        assert head.startswith(b"HTTP/1.1 403 ")
    [entry] = blocking_proxy.entries()
    assert (entry["allowed"], entry["reason"]) == (False, why)
    assert echo.accepted == []


def test_only_connect_and_plain_http_are_served(open_proxy: Proxy, echo: Echo) -> None:
    for line in (
        f"GET https://allowed.test:{echo.port}/ HTTP/1.1",
        "GET / HTTP/1.1",
        f"GET http://user@allowed.test:{echo.port}/ HTTP/1.1",
    ):
        with socket.create_connection(("127.0.0.1", open_proxy.port), timeout=10) as sock:
            sock.sendall(line.encode() + b"\r\n\r\n")
            assert read_all(sock).startswith(b"HTTP/1.1 403 ")
    assert [e["allowed"] for e in open_proxy.entries()] == [False] * 3
    assert echo.accepted == []


def test_an_absolute_http_request_goes_to_the_named_host_only(open_proxy: Proxy, web: int) -> None:
    with socket.create_connection(("127.0.0.1", open_proxy.port), timeout=10) as sock:
        sock.sendall(
            f"GET http://allowed.test:{web}/page HTTP/1.1\r\nHost: evil.test\r\n"
            "Proxy-Authorization: Basic eDp5\r\n\r\n".encode()
        )
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.0 200 ")
    assert answer.endswith(b"hello through the proxy")
    assert [(e["host"], e["allowed"]) for e in open_proxy.entries()] == [("allowed.test", True)]


def client_hello(name: str) -> bytes:
    """A real ClientHello, as Python's TLS client writes it for server name `name`."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_a_tls_server_name_other_than_the_connect_host_ends_the_tunnel(
    open_proxy: Proxy, echo: Echo
) -> None:
    sock, head = connect(open_proxy, f"allowed.test:{echo.port}")
    with sock:
        assert head.startswith(b"HTTP/1.1 200 ")
        sock.sendall(client_hello("evil.test"))
        assert read_all(sock) == b""
    entries = open_proxy.entries()
    assert [e["allowed"] for e in entries] == [True, False]
    assert entries[1]["reason"] == "the TLS server name 'evil.test' is not the CONNECT host"
    assert echo.accepted in ([], [b""])  # the hello never reached it


def test_a_matching_tls_server_name_is_passed_on_whole(open_proxy: Proxy, echo: Echo) -> None:
    hello = client_hello("Allowed.Test")
    sock, head = connect(open_proxy, f"allowed.test:{echo.port}")
    with sock:
        assert head.startswith(b"HTTP/1.1 200 ")
        sock.sendall(hello)
        got = b""
        while len(got) < len(hello):
            got += sock.recv(65536)
    assert got == hello
    assert [e["allowed"] for e in open_proxy.entries()] == [True]


def test_the_log_is_capped(tmp_path: Path, echo: Echo) -> None:
    cap = 4000
    for proxy in start(tmp_path, ["allowed.test"], block=True, cap=cap):
        for _ in range(60):
            sock, head = connect(proxy, f"denied.test:{echo.port}")
            sock.close()
            assert head.startswith(b"HTTP/1.1 403 ")
        old = proxy.log.with_name("vm.log.1")
        assert 0 < proxy.log.stat().st_size <= cap
        assert 0 < old.stat().st_size <= cap
        kept = list(read_entries(proxy.log))
        assert 0 < len(kept) < 60
        assert all(e.host == "denied.test" and not e.allowed for e in kept)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.5",
        "192.168.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - judged, never bound
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:a00:1::",
    ],
)
def test_host_and_lan_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


def test_a_public_answer_is_allowed_and_is_what_the_proxy_connects_to() -> None:
    gate = Gate(
        Rules.from_entries(["public.allowed.test"]),
        True,
        hosts_resolver({"public.allowed.test": [PUBLIC]}),
    )
    assert is_public(PUBLIC)
    assert gate.decide("public.allowed.test", 443) == Decision(True, "on the allowlist", (PUBLIC,))
    assert gate.decide("other.test", 443) == Decision(False, "not on the allowlist")
