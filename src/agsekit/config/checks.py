"""Checks on single strings of the config: names, paths and control characters.

Each check returns the value (possibly normalised) or raises ValueError with the sentence a
user reads; schema.py attaches them to fields, so pydantic reports them with their key path.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import unicodedata
import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from agsekit.core import proxyurl
from agsekit.core.durations import format_duration, parse_duration
from agsekit.network import allowlist
from agsekit.provision.catalogue import parse_item

VM_NAME = re.compile(r"[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
AGENT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Cc: C0/C1 controls and DEL; Cf: invisible formatting such as bidi overrides, which make a
# name or a path read differently from what it is; Zl/Zp: line breaks; Cs: lone surrogates.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def no_control(value: str) -> str:
    for char in value:
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


def vm_name(value: str) -> str:
    if not VM_NAME.fullmatch(value):
        raise ValueError(
            "not a valid VM name: letters, digits and '-', starting with a letter "
            "and not ending with '-'"
        )
    return value


def agent_name(value: str) -> str:
    if not AGENT_NAME.fullmatch(value):
        raise ValueError(
            "not a valid agent name: letters, digits, '-' and '_', starting with a letter"
        )
    return value


def env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(
            "not a valid environment variable name: letters, digits and '_', "
            "not starting with a digit"
        )
    return value


def proxy_url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    """A proxy URL of one of schemes, or "" (which turns the proxy off)."""

    def check(value: str) -> str:
        if value != "":  # ${NAME} references are filled in at run time
            proxyurl.parse(re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", "x", value), schemes)
        return value

    return check


def endpoint_url(value: str) -> str:
    """An agent's model endpoint: http(s)://HOST[:PORT][/PATH], with no user or password
    (the key goes in api_key, which stays off every command line)."""
    no_control(value)
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:11434/v1")
    if parsed.username is not None or parsed.password is not None:
        raise ValueError("must not hold a user or password: put the key in api_key as ${VAR}")
    if " " in value or parsed.query or parsed.fragment:
        raise ValueError("must be a base URL without spaces, query or fragment")
    return value.rstrip("/")


def model_name(value: str) -> str:
    no_control(value)
    if not value or value != value.strip() or " " in value:
        raise ValueError("must be a model name without spaces, e.g. qwen3-coder")
    return value


def key_reference(value: str) -> str:
    """api_key is a secret: only a ${VAR} reference to the host's environment."""
    if not re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", value):
        raise ValueError(
            "must be a reference to a variable of the host, e.g. ${OPENAI_API_KEY}: a key "
            "written into the config would be read by anyone who can read the file"
        )
    return value


_HOSTNAME = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_ADDRESS_HELP = "HOST:PORT such as 127.0.0.1:8080, [::1]:8080 or localhost:8080"


def address(value: str) -> str:
    """A forward's HOST:PORT: an IPv4 address, a bracketed IPv6 one, a host name or `*`
    (every interface), and a port from 1 to 65535. Returned as written."""
    split_address(value)
    return value


def split_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"must be {_ADDRESS_HELP}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"must be {_ADDRESS_HELP}")
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{host} is not an IPv6 address") from None
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"an IPv6 address goes in brackets: [{host}]:{port}")
    elif host != "*" and not _HOSTNAME.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name or address; must be {_ADDRESS_HELP}")
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"the port must be a number from 1 to 65535 (got {port!r})")
    return host, int(port)


def allow_entry(value: str) -> str:
    """An entry of `network.allow`: a preset, a domain, a *.wildcard or an IP address."""
    no_control(value)
    return allowlist.check_entry(value)


def host_path(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return no_control(value)


def vm_path(value: str) -> str:
    """A mount target: absolute, not `/`, no `..`; returned normalised (no trailing `/`)."""
    no_control(value)
    if not value.startswith("/"):
        raise ValueError("must be an absolute path inside the VM, e.g. /home/ubuntu/project")
    if ".." in value.split("/"):
        raise ValueError("must not contain '..'")
    # normpath keeps a leading "//" (POSIX leaves its meaning open); in the VM it is "/".
    normal = "/" + posixpath.normpath(value).lstrip("/")
    if normal == "/":
        raise ValueError("must not be / itself: name a folder, e.g. /home/ubuntu/project")
    return normal


def no_nul(value: str) -> str:
    # Neither a command line nor an environment can carry NUL; the env file that hands
    # values to the VM is NUL-separated, so one would even start another variable.
    if "\0" in value:
        raise ValueError("must not contain NUL characters")
    return value


def version(value: str) -> str:
    no_control(value)
    if not value or value.startswith("-") or any(char.isspace() for char in value):
        raise ValueError(
            "not a version: no spaces, not empty, not starting with '-' (e.g. 2.0.1 or latest)"
        )
    return value


def bundle(value: object) -> str:
    """An item of a VM's `install:` list: NAME or NAME:VERSION of a catalogued bundle."""
    if isinstance(value, dict) and len(value) == 1:
        name, version = next(iter(value.items()))
        raise ValueError(f"write a bundle as one word, e.g. '{name}:{version}' (no space)")
    if not isinstance(value, str):
        raise ValueError("must be a bundle name, optionally with :VERSION, e.g. nodejs:22")
    parse_item(value)
    return value


def exclude_pattern(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    no_control(value)
    # What is left once `!`, the trailing `/` and the anchoring `/` are taken off, as the
    # snapshot engine reads a pattern: nothing left matches nothing.
    glob = value.removeprefix("!")
    glob = glob.removesuffix("/").removeprefix("/")
    if not glob:
        raise ValueError("matches nothing: a pattern needs a name, e.g. build/ or *.log")
    return value


_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%", re.ASCII)
MAX_RESERVE_PERCENT = 50


def reserve(value: object) -> str:
    """A percentage string from "0%" to "50%". YAML numbers are refused: one reader takes
    `reserve: 5` for five percent, another `reserve: 0.05`."""
    if not isinstance(value, str) or (match := _PERCENT.fullmatch(value)) is None:
        raise ValueError('must be a percentage such as "5%", from "0%" (off) to "50%"')
    if Decimal(match.group(1)) > MAX_RESERVE_PERCENT:
        raise ValueError(f"must be at most {MAX_RESERVE_PERCENT}%")
    return value


def reserve_fraction(value: str) -> float:
    return float(Decimal(value.removesuffix("%")) / 100)


# Bounds of the service's timing keys (debounce, max_delay, min_interval), in seconds.
TIMING_BOUNDS = {
    "debounce": (0.0, 3600.0, False),  # (lowest, highest, lowest allowed)
    "max_delay": (0.0, 86400.0, False),
    "min_interval": (0.0, 86400.0, True),
}


def timing(key: str) -> Callable[[object], str]:
    """A check for one timing key: a duration string such as "10s" or "1m" within its
    bounds. YAML numbers are refused: is `10` ten seconds or ten minutes?"""
    lowest, highest, lowest_ok = TIMING_BOUNDS[key]

    def check(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError('must be a duration with its unit, such as "10s" or "1m"')
        seconds = parse_duration(value).total_seconds()
        if seconds < lowest or (seconds == lowest and not lowest_ok):
            raise ValueError("must be longer than 0s" if not lowest_ok else "must not be negative")
        if seconds > highest:
            raise ValueError(f"must be at most {format_duration(timedelta(seconds=highest))}")
        return value

    return check
