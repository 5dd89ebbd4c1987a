"""Does a proxy answer, seen from inside the VM? One line back: `ok ...` or the failure
(DNS, refused, timeout, or the proxy's own answer).

PROBE runs in the VM with python3 (in every Ubuntu image). It reads the proxy URL and the
target to ask for on its standard input, so a password never reaches a command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from agsekit.vm.backend import VmBackend

TIMEOUT = 8

PROBE = r"""
import base64, socket, ssl, struct, sys
from urllib.parse import unquote, urlsplit

url, target = sys.stdin.read().split("\n")[:2]
parts = urlsplit(url)
scheme = parts.scheme.lower()
user = unquote(parts.username) if parts.username is not None else None
password = unquote(parts.password or "")
port = parts.port or {"http": 80, "https": 443}.get(scheme, 1080)
host, target_port = target.rsplit(":", 1)
target_port = int(target_port)
where = f"{parts.hostname}:{port}"

def done(text):
    print(text)
    sys.exit(0)

try:
    socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
except OSError as exc:
    done(f"dns: the proxy's host {parts.hostname} does not resolve ({exc.strerror or exc})")
try:
    sock = socket.create_connection((parts.hostname, port), timeout=TIMEOUT)
except ConnectionRefusedError:
    done(f"refused: nothing accepts connections at {where}")
except (socket.timeout, TimeoutError):
    done(f"timeout: {where} did not answer within {TIMEOUT} s")
except OSError as exc:
    done(f"unreachable: {where}: {exc.strerror or exc}")

def read_exact(count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            done(f"closed: {where} closed the connection without an answer")
        data += chunk
    return data

try:
    if scheme in ("http", "https"):
        if scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            lines.append(f"Proxy-Authorization: Basic {token}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n" not in head and len(head) < 4096:
            chunk = sock.recv(1024)
            if not chunk:
                break
            head += chunk
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        fields = status.split(" ", 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/"):
            done(f"not a proxy: {where} answered {status[:60]!r}")
        if fields[1] == "200":
            done(f"ok: {where} opened a tunnel to {target}")
        done(f"http {fields[1]}: {where} answered {' '.join(fields[1:])} for {target}")
    if scheme in ("socks5", "socks5h"):
        methods = b"\x00\x02" if user is not None else b"\x00"
        sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
        version, method = read_exact(2)
        if version != 5:
            done(f"not a proxy: {where} does not speak SOCKS5")
        if method == 2:
            name, secret = (user or "").encode(), password.encode()
            sock.sendall(b"\x01" + bytes([len(name)]) + name + bytes([len(secret)]) + secret)
            if read_exact(2)[1] != 0:
                done(f"socks auth: {where} refused the user and password")
        elif method != 0:
            done(f"socks auth: {where} accepts none of the offered ways to log in")
        name = host.encode()
        request = b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", target_port)
        sock.sendall(request)
        reply = read_exact(4)
        if reply[1] != 0:
            done(f"socks {reply[1]}: {where} could not connect to {target}")
        done(f"ok: {where} connected to {target}")
    name = (user or "").encode()
    request = b"\x04\x01" + struct.pack(">H", target_port) + b"\x00\x00\x00\x01" + name + b"\x00"
    sock.sendall(request + host.encode() + b"\x00")
    reply = read_exact(8)
    if reply[1] != 0x5A:
        done(f"socks {reply[1]}: {where} could not connect to {target}")
    done(f"ok: {where} connected to {target}")
except (socket.timeout, TimeoutError):
    done(f"timeout: {where} accepted the connection but did not answer within {TIMEOUT} s")
except ssl.SSLError as exc:
    done(f"tls: {where}: {exc.reason or exc}")
except OSError as exc:
    done(f"error: {where}: {exc.strerror or exc}")
""".replace("TIMEOUT", str(TIMEOUT))


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    line: str  # the one line to show; holds no password


def probe_proxy(backend: VmBackend, vm: str, url: str, target: str) -> ProbeResult:
    """Ask the proxy at url, from inside vm, for a tunnel to target (host:port)."""
    result = backend.exec(vm, ["python3", "-c", PROBE], input=f"{url}\n{target}\n")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return ProbeResult(False, f"the check could not run in {vm}: {detail}")
    line = lines[-1]
    return ProbeResult(line.startswith("ok:"), line)
