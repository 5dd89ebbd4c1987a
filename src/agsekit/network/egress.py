"""The egress proxy: a host-side HTTP proxy that lets an agent reach only the hosts of its
allowlist. It takes CONNECT (a tunnel, for HTTPS and anything else) and absolute-URI
http:// requests; every other request, and every host the gate refuses, gets 403. Each
decision is a line of the VM's egress log.

A tunnel whose first bytes are a TLS ClientHello must name the CONNECT host in its SNI:
another name (a fronted host behind an allowed CDN) ends the tunnel, logged as denied.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import urllib.parse

from agsekit.network import tlshello
from agsekit.network.allowlist import normal_name
from agsekit.network.egressgate import Decision, Gate
from agsekit.network.egresslog import EgressLog

MAX_HEAD = 16 << 10
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
MAX_SESSIONS = 256
_DROPPED_HEADERS = ("proxy-authorization", "proxy-connection", "connection", "host", "keep-alive")


class Refused(Exception):
    """A request the proxy answers with status and logs as denied."""

    def __init__(self, status: int, reason: str, host: str = "", port: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.host = host
        self.port = port


class EgressProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], gate: Gate, log: EgressLog) -> None:
        super().__init__(address, _Handler)
        self.gate = gate
        self.log = log
        self.sessions = threading.BoundedSemaphore(MAX_SESSIONS)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def split_target(target: str, default_port: int | None = None) -> tuple[str, int]:
    """HOST:PORT of a CONNECT (or an URL's netloc), IPv6 in brackets; Refused when not."""
    host, sep, port = target.rpartition(":")
    if not sep or "]" in port:
        if default_port is None:
            raise Refused(400, "the request names no port", target)
        host, port = target, str(default_port)
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise Refused(400, "not HOST:PORT", target)
    return host, int(port)


class _Handler(socketserver.BaseRequestHandler):
    server: EgressProxy

    def handle(self) -> None:
        if not self.server.sessions.acquire(blocking=False):
            return
        try:
            self.request.settimeout(HEAD_TIMEOUT)
            self._serve()
        except Refused as refused:
            self.server.log.record(refused.host, refused.port, False, refused.reason)
            self._answer(refused.status, refused.reason)
        except _Unreachable:
            self._answer(502, "the host is allowed but does not answer")
        except OSError:
            pass
        finally:
            self.server.sessions.release()

    def _answer(self, status: int, reason: str) -> None:
        body = f"agsekit egress: {reason}\n".encode()
        words = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}
        head = (
            f"HTTP/1.1 {status} {words.get(status, 'Error')}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            self.request.sendall(head.encode() + body)

    def _serve(self) -> None:
        head, rest = self._read_head()
        lines = head.decode("latin-1").split("\r\n")
        method, target, *_ = [*lines[0].split(" "), "", ""]
        if method == "CONNECT":
            host, port = split_target(target)
            upstream = self._open(host, port)
            self.request.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            self._tunnel(upstream, host, port, rest)
            return
        url = urllib.parse.urlsplit(target)
        if url.scheme != "http" or not url.netloc or "@" in url.netloc:
            raise Refused(403, "only CONNECT and absolute http:// requests are served")
        host, port = split_target(url.netloc, 80)
        upstream = self._open(host, port)
        path = urllib.parse.urlunsplit(("", "", url.path or "/", url.query, ""))
        kept = [h for h in lines[1:] if h.partition(":")[0].strip().lower() not in _DROPPED_HEADERS]
        out = [f"{method} {path} {lines[0].rsplit(' ', 1)[-1]}", f"Host: {url.netloc}", *kept]
        upstream.sendall(("\r\n".join([*out, "Connection: close"]) + "\r\n\r\n").encode("latin-1"))
        with upstream:
            _relay(self.request, upstream, rest)

    def _read_head(self) -> tuple[bytes, bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > MAX_HEAD:
                raise Refused(400, "request head too long")
            chunk = self.request.recv(4096)
            if not chunk:
                raise OSError("closed before the request was complete")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        return head, rest

    def _open(self, host: str, port: int) -> socket.socket:
        decision: Decision = self.server.gate.decide(host, port)
        if not decision.allowed:
            raise Refused(403, decision.reason, host, port)
        self.server.log.record(host, port, True, decision.reason)
        for address in decision.addresses:
            with contextlib.suppress(OSError):
                return socket.create_connection((address, port), timeout=CONNECT_TIMEOUT)
        raise _Unreachable()

    def _tunnel(self, upstream: socket.socket, host: str, port: int, first: bytes) -> None:
        """Relay the tunnel; the server's side flows at once (some protocols speak first),
        the client's only once its first bytes passed the SNI check."""
        self.request.settimeout(None)
        upstream.settimeout(None)
        back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
        back.start()
        try:
            if not first and tlshello.looks_like_tls(self.request.recv(1, socket.MSG_PEEK)):
                first = self._hello(b"")
            elif tlshello.looks_like_tls(first):
                first = self._hello(first)
            if tlshello.looks_like_tls(first):
                reason = self._sni_problem(first, host)
                if reason is not None:
                    self.server.log.record(host, port, False, reason)
                    return
            if first:
                upstream.sendall(first)
            _pump(self.request, upstream)
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)
            back.join()
            upstream.close()

    def _hello(self, start: bytes) -> bytes:
        """The whole first TLS record (its 5-byte header says how long it is)."""
        data = start
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            if len(data) > MAX_HEAD + 5:
                break
            chunk = self.request.recv(4096)
            if not chunk:
                break
            data += chunk
        return data

    def _sni_problem(self, record: bytes, host: str) -> str | None:
        try:
            name = tlshello.server_name(record)
        except tlshello.NotHello as exc:
            return f"the TLS ClientHello cannot be read ({exc})"
        if name is not None and normal_name(name) != normal_name(host):
            return f"the TLS server name {name[:255]!r} is not the CONNECT host"
        return None


class _Unreachable(OSError):
    pass


def _relay(client: socket.socket, upstream: socket.socket, pending: bytes) -> None:
    """Copy both ways until both sides are done; pending is what the client already sent."""
    client.settimeout(None)
    upstream.settimeout(None)
    if pending:
        upstream.sendall(pending)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
