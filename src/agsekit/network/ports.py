"""Is a host address free to listen on, and if not, which process holds it (Linux: the
listening socket's inode in /proc/net/tcp{,6}, then the /proc/PID/fd link to it)."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

from agsekit.config.model import Address
from agsekit.core.display import show_path
from agsekit.core.errors import AgsekitError

LISTEN = "0A"


class PortInUseError(AgsekitError):
    pass


def check_free(address: Address) -> None:
    """Raises PortInUseError naming the holder when address cannot be listened on."""
    host = None if address.host in ("*", "") else address.host
    try:
        infos = socket.getaddrinfo(
            host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise AgsekitError(f"cannot resolve {address.host}: {exc.strerror}") from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise in_use(address) from None
                if exc.errno != errno.EADDRNOTAVAIL:  # ::1 on a host without IPv6
                    raise


def in_use(address: Address) -> PortInUseError:
    holder = holder_of(address.port)
    by = f" by {holder}" if holder else ""
    return PortInUseError(
        f"host port {address} is already in use{by}",
        hint="stop that program, or give the forward another host-addr in the config",
    )


def holder_of(port: int) -> str | None:
    """`NAME (pid N)` of a process listening on port, when this user may see it."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for pid in _pids():
        for inode in _socket_inodes(pid):
            if inode in inodes:
                return f"{show_path(_name(pid))} (pid {pid})"  # any user names its own
    return None


def _listening_inodes(port: int) -> set[str]:
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                listening = len(fields) > 9 and fields[3] == LISTEN
                if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found.add(fields[9])
    return found


def _pids() -> list[int]:
    try:
        return sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    except OSError:
        return []


def _socket_inodes(pid: int) -> set[str]:
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    inodes = set()
    for name in names:
        with contextlib.suppress(OSError):
            target = os.readlink(f"{folder}/{name}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or "a process"
    except OSError:
        return "a process"
