"""The egress proxy's decision about one host and port: on the allowlist, resolved, and (when
the host and LAN are blocked) only to public addresses.

The addresses are checked after the name is resolved, and the proxy connects to the very
address that was checked: a name on the list that resolves to 10.x or 127.x is refused,
and a second lookup cannot bring another answer (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from agsekit.network.allowlist import Rules, ip_literal

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def hosts_resolver(table: Mapping[str, Sequence[str]]) -> Resolver:
    """For tests: names resolve only through table (names in lower case), like a hosts file
    that is the whole DNS; a name not in it does not resolve."""

    def resolve(host: str, port: int) -> list[str]:
        found = table.get(host.lower().removesuffix("."))
        if not found:
            raise OSError(f"{host} is not in the test's hosts table")
        return list(found)

    return resolve


def is_public(address: str) -> bool:
    """Neither the host itself, nor a private, shared (CGNAT), link-local, multicast or
    reserved range; an IPv4 address written as IPv6 is judged as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    addresses: tuple[str, ...] = ()


class Gate:
    def __init__(self, rules: Rules, block_host_and_lan: bool, resolver: Resolver) -> None:
        self.rules = rules
        self.block = block_host_and_lan
        self.resolver = resolver

    def decide(self, host: str, port: int) -> Decision:
        if not self.rules.allows(host):
            return Decision(False, "not on the allowlist")
        literal = ip_literal(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError):
                return Decision(False, "does not resolve")
        if not addresses:
            return Decision(False, "does not resolve")
        if self.block:
            inner = [a for a in addresses if not is_public(a)]
            if inner:
                return Decision(False, f"{inner[0]} is the host's or a LAN address")
        return Decision(True, "on the allowlist", tuple(addresses))
