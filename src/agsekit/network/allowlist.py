"""The egress allowlist's rules: presets, how an entry is written, and how a host matches.

An entry of `allow:` is a preset name (a word without a dot), an exact domain
(`api.example.com`), a wildcard (`*.example.com`: every name below example.com, at any
depth, but not example.com itself), or an IP address, which is the only way an address
written as such in a request is let through. Names compare without case and without a
trailing dot.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

PRESETS: dict[str, tuple[str, ...]] = {
    "anthropic": (
        "api.anthropic.com",
        "console.anthropic.com",
        "statsig.anthropic.com",
        "claude.ai",
    ),
    "openai": ("api.openai.com", "auth.openai.com", "chatgpt.com"),
    "google-ai": (
        "generativelanguage.googleapis.com",
        "cloudcode-pa.googleapis.com",
        "oauth2.googleapis.com",
        "accounts.google.com",
    ),
    "npm": ("registry.npmjs.org", "registry.yarnpkg.com"),
    "pypi": ("pypi.org", "files.pythonhosted.org"),
    "github": ("github.com", "*.github.com", "*.githubusercontent.com"),
    "ubuntu-apt": (
        "archive.ubuntu.com",
        "*.archive.ubuntu.com",
        "security.ubuntu.com",
        "ports.ubuntu.com",
    ),
}

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
MAX_NAME = 253


def normal_name(host: str) -> str:
    """host as compared: lower case, without the one trailing dot of a rooted name."""
    return host.lower().removesuffix(".")


def is_domain(name: str) -> bool:
    """A host name of letters, digits and '-' (already in normal_name form)."""
    if not name or len(name) > MAX_NAME or not name.isascii():
        return False
    return all(_LABEL.fullmatch(label) for label in name.split("."))


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def check_entry(value: str) -> str:
    """One `allow:` entry, or ValueError with the sentence a user reads."""
    if "." not in value and ":" not in value:
        if value in PRESETS:
            return value
        hint = difflib.get_close_matches(value, list(PRESETS), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise ValueError(
            f"unknown preset{suggestion}; presets: {', '.join(PRESETS)}; a domain has a dot"
        )
    if ip_literal(value) is not None:
        return value
    name = normal_name(value)
    if name.startswith("*."):
        rest = name[2:]
        if "*" in rest or not is_domain(rest):
            raise ValueError("a wildcard is '*.' and then a domain, e.g. *.npmjs.org")
        if "." not in rest:
            raise ValueError("a wildcard must name a domain below a top-level one, not *.com")
        return value
    if "*" in name:
        raise ValueError("'*' is allowed only as the whole first label: *.example.com")
    if not is_domain(name):
        raise ValueError(
            "not a domain: labels of letters, digits and '-' separated by dots, e.g. "
            "registry.npmjs.org (no scheme, port or path)"
        )
    return value


@dataclass(frozen=True)
class Rules:
    """The expanded allowlist: exact names, wildcard suffixes (".example.com") and
    addresses, all in normal form."""

    exact: frozenset[str] = frozenset()
    suffixes: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> Rules:
        exact: set[str] = set()
        suffixes: set[str] = set()
        addresses: set[str] = set()
        for entry in entries:
            for item in PRESETS.get(entry, (entry,)):
                address = ip_literal(item)
                if address is not None:
                    addresses.add(str(address))
                elif item.startswith("*."):
                    suffixes.add(normal_name(item)[1:])
                else:
                    exact.add(normal_name(item))
        return cls(frozenset(exact), frozenset(suffixes), frozenset(addresses))

    def allows(self, host: str) -> bool:
        """host as asked for (a name or an address literal) is on the list."""
        address = ip_literal(host)
        if address is not None:
            return str(address) in self.addresses
        name = normal_name(host)
        if not is_domain(name):
            return False
        if name in self.exact:
            return True
        return any(name.endswith(suffix) for suffix in self.suffixes)
