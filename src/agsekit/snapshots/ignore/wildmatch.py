"""Translate one gitignore glob into a Python regular expression with git's wildmatch meaning.

Globs and the names they are matched against are latin-1 strings: one character per byte,
so a name that is not UTF-8 matches exactly as git (which compares bytes) matches it, and
`?` or `[...]` stand for one byte, as in git.

Rules, as in git's wildmatch with WM_PATHNAME:
- `*` and `?` never match `/`; `\\x` is a literal `x`; a trailing lone `\\` matches nothing;
- `**` between slashes (or at an end) crosses directories: `**/` is zero or more directories,
  a trailing `/**` is everything below; any other run of stars is a plain `*`;
- `[...]`: `!` or `^` negates, `]` first is literal, `\\` escapes, `a-z` ranges (a reversed
  range matches only its first character), `[:alpha:]`-style classes; never matches `/`.
  An unterminated bracket or an unknown class makes the whole glob match nothing.

pathspec's translation differs from git on `[\\]]`, `[z-a]`, `[[:digit:]]` and a trailing
backslash, which is why this small translator exists.
"""

from __future__ import annotations

from dataclasses import dataclass

_ASCII_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_CHAR_CLASSES: dict[str, frozenset[int]] = {
    "alnum": frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
    "alpha": frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
    "blank": frozenset(b" \t"),
    "cntrl": frozenset([*range(32), 127]),
    "digit": frozenset(b"0123456789"),
    "graph": frozenset(range(33, 127)),
    "lower": frozenset(b"abcdefghijklmnopqrstuvwxyz"),
    "print": frozenset(range(32, 127)),
    "punct": frozenset(_ASCII_PUNCT.encode()),
    "space": frozenset(b" \t\n\r"),  # git's own ctype: no \v or \f
    "upper": frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "xdigit": frozenset(b"0123456789ABCDEFabcdef"),
}
_SLASH = ord("/")


@dataclass(frozen=True, slots=True)
class Translation:
    """`regex` (for re.fullmatch with re.DOTALL) and how many `/` a matching path holds:
    at least `min_slashes`, and exactly that many unless `unbounded`."""

    regex: str
    min_slashes: int
    unbounded: bool


class _NeverMatches(Exception):
    """The glob can match nothing (git's wildmatch aborts on it)."""


def translate(glob: str) -> Translation | None:
    """The regex for `glob`, or None when git's wildmatch could never match it."""
    try:
        return _translate(glob)
    except _NeverMatches:
        return None


def _translate(glob: str) -> Translation:
    parts: list[str] = []
    slashes = 0
    unbounded = False
    i, end = 0, len(glob)
    while i < end:
        char = glob[i]
        if char == "*":
            stars_end = i
            while stars_end < end and glob[stars_end] == "*":
                stars_end += 1
            if stars_end - i >= 2 and _is_double_star(glob, i, stars_end):
                unbounded = True
                if stars_end < end and glob[stars_end] == "/":
                    parts.append("(?:.*/)?")  # zero or more whole directories
                    stars_end += 1
                else:
                    parts.append(".*")
            else:
                parts.append("[^/]*")
            i = stars_end
        elif char == "?":
            parts.append("[^/]")
            i += 1
        elif char == "\\":
            if i + 1 >= end:
                raise _NeverMatches
            slashes += glob[i + 1] == "/"
            parts.append(_literal(glob[i + 1]))
            i += 2
        elif char == "[":
            members, i = _bracket(glob, i + 1)
            parts.append(_char_set(members))
        else:
            slashes += char == "/"
            parts.append(_literal(char))
            i += 1
    return Translation("".join(parts), slashes, unbounded)


def _is_double_star(glob: str, start: int, stop: int) -> bool:
    """A run of stars crosses directories only when it is a whole path segment."""
    after = glob[stop : stop + 2]
    return (start == 0 or glob[start - 1] == "/") and (
        stop == len(glob) or after[:1] == "/" or after == "\\/"
    )


def _bracket(glob: str, i: int) -> tuple[frozenset[int], int]:
    """Parse a bracket expression whose `[` is just before index `i`: the byte values it
    matches and the index after its closing `]`."""
    end = len(glob)
    negated = i < end and glob[i] in "!^"
    i += negated
    members: set[int] = set()
    previous: int | None = None
    first = True
    while True:
        if i >= end:
            raise _NeverMatches
        char = glob[i]
        if char == "]" and not first:
            break
        first = False
        if char == "\\":
            i += 1
            if i >= end:
                raise _NeverMatches
            previous = ord(glob[i])
            members.add(previous)
        elif char == "-" and previous is not None and i + 1 < end and glob[i + 1] != "]":
            i += 1
            if glob[i] == "\\":
                i += 1
                if i >= end:
                    raise _NeverMatches
            members.update(range(previous, ord(glob[i]) + 1))
            previous = None
        elif char == "[" and glob[i + 1 : i + 2] == ":":
            named = _named_class(glob, i)
            if named is None:  # no closing ":]": the "[" is an ordinary member
                previous = ord("[")
                members.add(previous)
            else:
                class_members, i = named
                members.update(class_members)
                previous = None
        else:
            previous = ord(char)
            members.add(previous)
        i += 1
    matched = frozenset(range(256)) - members if negated else frozenset(members)
    return matched - {_SLASH}, i + 1


def _named_class(glob: str, i: int) -> tuple[frozenset[int], int] | None:
    """`[:name:]` starting at index `i`: its members and the index of its final `]`;
    None when the text up to the next `]` does not end in `:`."""
    close = glob.find("]", i + 2)
    if close < 0:
        raise _NeverMatches
    if close - (i + 2) < 1 or glob[close - 1] != ":":
        return None
    members = _CHAR_CLASSES.get(glob[i + 2 : close - 1])
    if members is None:
        raise _NeverMatches
    return members, close


def _char_set(members: frozenset[int]) -> str:
    if not members:
        return "(?!)"
    ranges: list[str] = []
    ordered = sorted(members)
    start = previous = ordered[0]
    for value in [*ordered[1:], -2]:
        if value != previous + 1:
            last = "" if start == previous else f"-\\x{previous:02x}"
            ranges.append(f"\\x{start:02x}{last}")
            start = value
        previous = value
    return "[" + "".join(ranges) + "]"


def _literal(char: str) -> str:
    return f"\\x{ord(char):02x}" if not char.isalnum() else char


def literal(glob: str) -> str | None:
    """The one name `glob` matches when it has no wildcard (escapes resolved), else None."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if char in "*?[":
            return None
        if char == "\\":
            i += 1
            if i == len(glob):
                return None
            char = glob[i]
        out.append(char)
        i += 1
    return "".join(out)
