"""One line per config problem: `FILE:LINE: KEY.PATH: message (got VALUE)`.

The value is always shown whole, as the user wrote it: strings repr-quoted so that spaces,
quotes and control characters are visible as escapes (never printed raw), booleans, null
and special floats in their YAML spelling.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from pathlib import Path
from typing import Any

from agsekit.config.tree import Loc, to_plain
from agsekit.core import proxyurl
from agsekit.core.display import MASK

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")

# Keys whose values may hold a password: shown with it masked; and keys whose whole
# value is a secret (a key written where only a ${VAR} reference belongs): never shown.
SECRET_KEYS = {("http_proxy",), ("proxychains",), ("base_url",)}
HIDDEN_KEYS = {("api_key",)}


def show_value(value: Any) -> str:
    if isinstance(value, dict):
        items = ", ".join(f"{show_value(k)}: {show_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, AbstractSet):
        return "!!set {" + ", ".join(show_value(v) for v in value) + "}"
    return _show_scalar(value)


def _show_scalar(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, (int, float)):
        return _show_number(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "tag") and hasattr(value, "value"):  # ruamel's TaggedScalar: !tag value
        return f"{value.tag} {show_value(value.value)}"
    return repr(value)


def _show_number(value: float) -> str:
    if isinstance(value, int):
        return str(int(value))
    if math.isnan(value):
        return ".nan"
    return {math.inf: ".inf", -math.inf: "-.inf"}.get(value, repr(float(value)))


def key_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _PLAIN_KEY.fullmatch(part) else show_value(part)
            out += ("." if out else "") + key
    return out


class Locator:
    """Maps a key path to a line of the file, for messages."""

    def __init__(self, path: Path, tree: Any) -> None:
        self.path = path
        self.tree = tree

    def line(self, loc: Loc) -> int | None:
        node = self.tree
        line: int | None = None
        for part in loc:
            lc = getattr(node, "lc", None)
            try:
                if isinstance(node, dict) and part in node:
                    if lc is not None:
                        line = lc.key(part)[0] + 1
                    node = node[part]
                elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                    if lc is not None:
                        line = lc.item(part)[0] + 1
                    node = node[part]
                else:
                    break
            except (KeyError, IndexError, TypeError):
                break
        if line is None and getattr(self.tree, "lc", None) is not None:
            line = self.tree.lc.line + 1
        return line

    def problem(self, loc: Loc, message: str, value: Any = ..., *, line: int | None = None) -> str:
        """The problem's line; `value` is left out when not given (unknown or missing keys)."""
        line = line or self.line(loc)
        where = f"{self.path.name}:{line}" if line else self.path.name
        key = key_path(loc) or "(top level)"
        text = f"{where}: {key}: {message}"
        if value is not ...:
            text += f" (got {_shown(loc, value)})"
        return text


def _hidden(loc: Loc) -> bool:
    """An agent's env: values and model key, and whatever holds them (an agent or its
    model: given in the wrong shape), are secrets even when written literally."""
    if loc[-1:] in HIDDEN_KEYS:
        return True
    if loc[:1] != ("agents",):
        return False
    inner = loc[2:4]
    return len(loc) <= 2 or inner[:1] == ("env",) or inner in (("model",), ("model", "api_key"))


def _shown(loc: Loc, value: Any) -> str:
    if _hidden(loc) and value != loc[-1]:  # a bad name is the key itself, already shown
        return MASK
    shown = show_value(to_plain(value))
    return proxyurl.redact(shown) if loc[-1:] in SECRET_KEYS else shown


def unknown_vm(locator: Locator, loc: Loc, vm: str, vms: Collection[str]) -> str:
    hint = difflib.get_close_matches(vm, list(vms), n=1)
    known = ", ".join(vms) or "none"
    suggestion = f"did you mean '{hint[0]}'? " if hint else ""
    return locator.problem(loc, f"no VM named {vm!r} in 'vms' ({suggestion}known: {known})", vm)
