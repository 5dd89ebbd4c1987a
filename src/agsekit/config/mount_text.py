"""Adding and removing one `mounts:` entry as a splice of the file's own text.

ruamel.yaml's round trip reads the file and says where each entry starts; the edit then
inserts or cuts whole lines there, so every other byte of the file (comments, blank lines,
quoting, indentation) stays exactly as the user wrote it. An entry is its own lines: from
its `-` to its last line of content, comments indented deeper than its `-` included;
comments above it and blank lines around it stay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agsekit.config.tree import parse_yaml
from agsekit.core.errors import ConfigError, UsageError

Scalar = str | float | int
_EMPTY_VALUES = {"", "[]", "~", "null", "Null", "NULL"}
_ODD_BREAKS = ("\x85", "\u2028", "\u2029")


@dataclass(frozen=True)
class _Layout:
    """Where the `mounts:` key and its entries are, in line numbers from 0."""

    lines: list[str]
    key_line: int
    key_col: int
    starts: list[int]  # the line of each entry's `-`
    dash_col: int
    key_indent: int  # the column of an entry's keys
    region_end: int  # the first line after the mounts' value (the next top-level key, or EOF)
    newline: str


def add_entry(text: str, entry: Mapping[str, Scalar], path: Path) -> str:
    """text with entry appended to `mounts:` (the key is added when missing)."""
    layout = _layout(text, path)
    if layout is None:
        return _with_final_newline(text) + _new_section(entry, _newline(text))
    lines = list(layout.lines)
    block = _entry_lines(entry, layout.dash_col, layout.key_indent, layout.newline)
    if not layout.starts:
        lines[layout.key_line] = _emptied_key_line(lines[layout.key_line], layout)
        at = layout.key_line + 1
    else:
        at = _entry_end(layout, len(layout.starts) - 1) + 1
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += layout.newline
    return "".join([*lines[:at], *block, *lines[at:]])


def remove_entry(text: str, index: int, path: Path) -> str:
    """text without the mounts entry at index; `mounts: []` when it was the only one."""
    layout = _layout(text, path)
    if layout is None or not 0 <= index < len(layout.starts):
        raise UsageError(f"{path} has no mounts[{index}] to remove")
    lines = list(layout.lines)
    start, end = layout.starts[index], _entry_end(layout, index)
    if len(layout.starts) == 1:
        line = lines[layout.key_line]
        colon = _colon(line, layout.key_col)
        lines[layout.key_line] = line[: colon + 1] + " []" + line[colon + 1 :]
    kept = [*lines[:start], *lines[end + 1 :]]
    if kept and not kept[-1].endswith("\n") and lines[end].endswith("\n"):
        kept[-1] += layout.newline
    return "".join(kept)


def _layout(text: str, path: Path) -> _Layout | None:
    if any(ch in text for ch in _ODD_BREAKS) or "\r" in text.replace("\r\n", ""):
        raise UsageError(
            f"cannot edit {path} by command: it has line breaks other than \\n and \\r\\n",
            hint="edit it in an editor instead",
        )
    doc = parse_yaml(text, path)
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise UsageError(f"cannot edit {path}: its top level is not a mapping of keys")
    if "mounts" not in doc:
        return None
    lines = text.split("\n")
    lines = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    key_line, key_col = _lc(doc).key("mounts")
    mounts = doc["mounts"]
    starts = _starts(mounts, lines, path)
    keys = list(doc)
    following = keys[keys.index("mounts") + 1 :]
    region_end = _lc(doc).key(following[0])[0] if following else len(lines)
    if starts:
        first_line, value_col = _lc(mounts).item(0)
        dash_col = lines[first_line].rfind("-", 0, value_col)
    else:
        dash_col, value_col = key_col + 2, key_col + 4
    return _Layout(
        lines, key_line, key_col, starts, dash_col, value_col, region_end, _newline(text)
    )


def _starts(mounts: Any, lines: Sequence[str], path: Path) -> list[int]:
    if mounts is None:
        return []
    if not isinstance(mounts, list):
        raise UsageError(f"cannot edit {path}: 'mounts' is not a list")
    flow = bool(_flow_style(mounts))
    if flow and mounts:
        raise UsageError(
            f"cannot edit {path} by command: 'mounts' is written as a flow list [...]",
            hint="write it as a block list (one '- source: ...' entry per line) first",
        )
    starts = [_lc(mounts).item(i)[0] for i in range(len(mounts))]
    for line, col in (_lc(mounts).item(i) for i in range(len(mounts))):
        if "-" not in lines[line][:col]:
            raise UsageError(
                f"cannot edit {path} by command: an entry of 'mounts' does not start on "
                f"the line of its '-' (line {line + 1})",
                hint="write each entry as '- source: ...' on one line first",
            )
    return starts


def _lc(node: Any) -> Any:
    """ruamel's record of where node's keys and items are (line, column from 0)."""
    return node.lc


def _flow_style(node: Any) -> bool | None:
    return node.fa.flow_style() if hasattr(node, "fa") else None


def _entry_end(layout: _Layout, index: int) -> int:
    """The last line of the entry at index: its last line of content before the next
    entry (or the end of the mounts), a comment counting when indented deeper than `-`."""
    start = layout.starts[index]
    stop = layout.starts[index + 1] if index + 1 < len(layout.starts) else layout.region_end
    end = start
    for number in range(start + 1, stop):
        stripped = layout.lines[number].strip()
        indent = len(layout.lines[number]) - len(layout.lines[number].lstrip())
        if stripped and (not stripped.startswith("#") or indent > layout.dash_col):
            end = number
    return end


def _emptied_key_line(line: str, layout: _Layout) -> str:
    """`mounts: []  # c` -> `mounts:  # c`, ready for entries below it."""
    body = line.rstrip("\r\n")
    ending = line[len(body) :] or layout.newline
    colon = _colon(body, layout.key_col)
    value, hash_mark, comment = body[colon + 1 :].partition("#")
    if value.strip() not in _EMPTY_VALUES:
        raise UsageError("cannot edit 'mounts' by command: its value is not a block list")
    stripped = value.strip()
    at = value.find(stripped) if stripped else len(value)
    spaces = value[:at].removesuffix(" ") + value[at + len(stripped) :]  # as `[]` was spaced
    return body[: colon + 1] + (spaces + hash_mark + comment if hash_mark else "") + ending


def _colon(line: str, key_col: int) -> int:
    colon = line.find(":", key_col)
    if colon < 0:
        raise UsageError("cannot edit 'mounts' by command: its key is not followed by ':'")
    return colon


def _entry_lines(
    entry: Mapping[str, Scalar], dash_col: int, key_indent: int, newline: str
) -> list[str]:
    rows = [f"{key}: {scalar(value)}" for key, value in entry.items()]
    first = " " * dash_col + "-" + " " * max(1, key_indent - dash_col - 1) + rows[0]
    pad = " " * max(key_indent, dash_col + 2)
    return [first + newline, *(pad + row + newline for row in rows[1:])]


def _new_section(entry: Mapping[str, Scalar], newline: str) -> str:
    return "mounts:" + newline + "".join(_entry_lines(entry, 2, 4, newline))


def scalar(value: Scalar) -> str:
    """value as a YAML scalar: plain when YAML reads it back as the same string, else
    double-quoted (JSON's quoting is valid YAML)."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    plain_ok = value == value.strip() and "#" not in value and ": " not in value
    if plain_ok:
        try:
            back = parse_yaml(f"k: {value}\n", Path("<scalar>"))
        except ConfigError:  # not readable back: quote it
            back = None
        if isinstance(back, dict) and back.get("k") == value and type(back["k"]) is str:
            return value
    return json.dumps(value, ensure_ascii=False)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _with_final_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + _newline(text)
