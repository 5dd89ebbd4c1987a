"""Names made safe for a terminal, and shell commands that a user can paste.

Every name an agent wrote may hold control bytes (ESC sequences that clear the screen, a
newline that forges a line of output, C1 codes). Human-readable output quotes such names
as git does with core.quotePath (C-style, in double quotes); printed commands quote them
as `$'...'` so that a pasted command names exactly the same bytes. JSON output keeps the
exact bytes instead (see cli/history_render.path_fields).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_C_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}
_SAFE_WORD = re.compile(r"[A-Za-z0-9@%+=:,./_-]+")

# What a secret is shown as, wherever agsekit shows or logs text.
MASK = "******"


def _text(name: bytes | str) -> str:
    return name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name


def is_control(char: str) -> bool:
    """C0, DEL and C1 characters, and bytes that were not valid UTF-8."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or 0xDC80 <= code <= 0xDCFF


def needs_quoting(name: bytes | str) -> bool:
    return any(is_control(c) or c in '"\\' for c in _text(name))


def _octal(char: str) -> str:
    code = ord(char)
    raw = bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else char.encode("utf-8")
    return "".join(f"\\{byte:03o}" for byte in raw)


def show_path(name: bytes | str) -> str:
    """A path for people: as it is, or C-quoted in double quotes when it holds control
    characters, bytes that are not UTF-8, `"` or `\\` (never a raw control byte)."""
    text = _text(name)
    if not text:
        return "."
    if not needs_quoting(text):
        return text
    out = []
    for char in text:
        if char in _C_ESCAPES:
            out.append(_C_ESCAPES[char])
        elif is_control(char):
            out.append(_octal(char))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def visible_bytes(data: bytes) -> bytes:
    """Text for a terminal with its control characters (but newline and TAB), DEL, C1
    codes and bytes that are not UTF-8 shown as octal escapes, so that content (a patch)
    cannot move the cursor, erase or hide lines."""
    text = data.decode("utf-8", "surrogateescape")
    if not any(is_control(c) and c not in "\n\t" for c in text):
        return data
    shown = "".join(_octal(c) if is_control(c) and c not in "\n\t" else c for c in text)
    return shown.encode("utf-8")


def shell_word(word: bytes | str) -> str:
    """One word of a shell command, quoted so that pasting it gives back the same bytes:
    plain, '...' or, when it holds control characters, $'...'."""
    text = _text(word)
    if text and _SAFE_WORD.fullmatch(text):
        return text
    if not any(is_control(c) for c in text):
        return "'" + text.replace("'", "'\\''") + "'"
    out = []
    for char in text:
        code = ord(char)
        if char in "\\'":
            out.append("\\" + char)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif is_control(char):
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8"))
        else:
            out.append(char)
    return "$'" + "".join(out) + "'"


def shell_join(words: Iterable[bytes | str]) -> str:
    return " ".join(shell_word(word) for word in words)


def format_bytes(num: int) -> str:
    value = float(num)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
