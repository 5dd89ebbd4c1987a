"""A small real proxy for the tests: HTTP (CONNECT and absolute-URI requests) and SOCKS5 on
one loopback port, told apart by the first byte. Every request is a line in its own log,
which is what the tests believe, not the environment they set.

    python3 tests/fakes/proxy.py --port-file F --log F [--target HOST:PORT] [--auth U:P]

--target sends every tunnel there, whatever host was asked for (so an agent can "reach"
api.example.test on a loopback server); without it the asked host is connected to.
--auth requires these credentials (Basic for HTTP, user/password for SOCKS5): a request
without them gets 407 (or a SOCKS auth failure) and is logged as denied.
Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import socket
import socketserver
import struct
import threading


class Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, log: str, target: str | None, auth: str | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.log_path = log
        self.target = _split(target) if target else None
        self.auth = auth
        self.lock = threading.Lock()

    def record(self, line: str) -> None:
        with self.lock, open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def _split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host.strip("[]"), int(port)


class Handler(socketserver.BaseRequestHandler):
    server: Proxy

    def handle(self) -> None:
        first = self.request.recv(1, socket.MSG_PEEK)
        if first == b"\x05":
            self.socks5()
        elif first:
            self.http()

    # ----- HTTP ---------------------------------------------------------------------------
    def http(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        header, _, rest = head.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        method, uri, _ = ([*lines[0].split(" "), "", ""])[:3]
        fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        user = self.http_user(fields.get("proxy-authorization", ""))
        if self.server.auth is not None and user != self.server.auth:
            self.server.record(f"DENIED {method} {uri}")
            self.request.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
            )
            return
        who = f" user={user.split(':')[0]}" if user else ""
        if method == "CONNECT":
            self.server.record(f"CONNECT {uri}{who}")
            upstream = self.connect(_split(uri))
            if upstream is None:
                self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.pump(upstream, rest)
            return
        self.server.record(f"{method} {uri}{who}")
        if not uri.startswith("http://"):
            self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        hostport, _, path = uri[len("http://") :].partition("/")
        address = _split(hostport if ":" in hostport else hostport + ":80")
        upstream = self.connect(address)
        if upstream is None:
            self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        kept = [x for x in lines[1:] if not x.lower().startswith(("proxy-", "connection"))]
        request = "\r\n".join([f"{method} /{path} HTTP/1.1", *kept, "Connection: close"])
        self.pump(upstream, request.encode("latin-1") + b"\r\n\r\n" + rest)

    def http_user(self, value: str) -> str | None:
        if not value.lower().startswith("basic "):
            return None
        try:
            return base64.b64decode(value[6:]).decode()
        except ValueError:
            return None

    # ----- SOCKS5 -------------------------------------------------------------------------
    def socks5(self) -> None:
        _, count = self.exact(2)
        methods = self.exact(count)
        user = None
        if self.server.auth is not None:
            if 2 not in methods:
                self.request.sendall(b"\x05\xff")
                self.server.record("DENIED socks5 (no credentials)")
                return
            self.request.sendall(b"\x05\x02")
            _, size = self.exact(2)
            name = self.exact(size).decode()
            size = self.exact(1)[0]
            secret = self.exact(size).decode()
            if f"{name}:{secret}" != self.server.auth:
                self.request.sendall(b"\x01\x01")
                self.server.record("DENIED socks5 (wrong credentials)")
                return
            self.request.sendall(b"\x01\x00")
            user = name
        else:
            self.request.sendall(b"\x05\x00")
        _, command, _, kind = self.exact(4)
        if kind == 1:
            host = socket.inet_ntoa(self.exact(4))
        elif kind == 3:
            host = self.exact(self.exact(1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, self.exact(16))
        (port,) = struct.unpack(">H", self.exact(2))
        who = f" user={user}" if user else ""
        self.server.record(f"SOCKS5 {host}:{port}{who}")
        upstream = self.connect((host, port)) if command == 1 else None
        if upstream is None:
            self.request.sendall(b"\x05\x05\x00\x01" + b"\x00" * 6)
            return
        self.request.sendall(b"\x05\x00\x00\x01" + b"\x00" * 6)
        self.pump(upstream, b"")

    def exact(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.request.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    # ----- both ---------------------------------------------------------------------------
    def connect(self, address: tuple[str, int]) -> socket.socket | None:
        try:
            return socket.create_connection(self.server.target or address, timeout=10)
        except OSError:
            return None

    def pump(self, upstream: socket.socket, first: bytes) -> None:
        upstream.settimeout(None)
        if first:
            upstream.sendall(first)

        def back() -> None:
            try:
                while data := upstream.recv(65536):
                    self.request.sendall(data)
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    self.request.shutdown(socket.SHUT_WR)

        thread = threading.Thread(target=back, daemon=True)
        thread.start()
        try:
            while data := self.request.recv(65536):
                upstream.sendall(data)
            upstream.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        thread.join(timeout=30)
        upstream.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--target")
    parser.add_argument("--auth")
    args = parser.parse_args()
    server = Proxy(args.log, args.target, args.auth)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
