"""Proxy URLs: parsed strictly, and shown without their password.

A URL such as http://me:pass@proxy:3128 holds a secret. Whatever shows or logs one goes
through redact() first; the value itself travels only where secrets travel (see
agents/secrets.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from agsekit.core.display import MASK

HTTP_SCHEMES = ("http", "https")
CHAINS_SCHEMES = ("socks5", "socks5h", "socks4", "socks4a", "http")
DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080, "socks4": 1080}
DEFAULT_PORTS["socks4a"] = 1080
# The password runs to the last @ of the text: one written without percent-encoding may
# hold @, /, a space or a newline, and a URL that does not parse is still shown in its error.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^@:\s]*):.*@", re.DOTALL)


@dataclass(frozen=True)
class ProxyUrl:
    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse(text: str, schemes: tuple[str, ...]) -> ProxyUrl:
    """The URL's parts; ValueError with a sentence (never the password) when it is not one."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("a proxy URL has no spaces or control characters")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise ValueError(
            f"a proxy URL starts with {' or '.join(s + '://' for s in schemes)}, "
            "e.g. http://127.0.0.1:3128"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a proxy URL is scheme://[user:password@]host:port, with no path")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the proxy's port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("the proxy URL names no host")
    if port == 0:
        raise ValueError("the proxy's port must be a number from 1 to 65535")
    return ProxyUrl(
        scheme,
        parts.hostname,
        port or DEFAULT_PORTS[scheme],
        unquote(parts.username) if parts.username is not None else None,
        unquote(parts.password) if parts.password is not None else None,
    )


def redact(text: str) -> str:
    """text with the password of every URL in it replaced by ******."""
    return _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)


def secrets_of(text: str) -> frozenset[str]:
    """The parts of a proxy URL to mask wherever text is shown: the URL whole and its
    password, in both their written and decoded forms."""
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return frozenset({text})
    if password is None:
        return frozenset()
    return frozenset({text, password, unquote(password)})
