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

The regex never backtracks exponentially (an agent writes these globs). A plain translation
(`*` as `[^/]*`, `**/` as `(?:.*/)?`) tries every way to place the text between stars, so
`*a*a*a*a*b` against a long name of `a`s takes exponential time. Instead:
- within a path segment, the text between two `*` (a "middle chunk", fixed width) is placed
  at its leftmost occurrence, which is always a right choice: the `*` after it can absorb
  whatever a later placement would have skipped. The regex for it admits only that one
  placement (it skips characters where the chunk does not start), so nothing is retried;
- `*` cannot cross `/`, so each segment matches one path segment, segment by segment;
- a block of segments between two `**/` (or before a trailing `**`) is placed at the
  leftmost directory boundary where it matches, for the same reason;
- consecutive `**/` collapse into one.
Each placement is a scan with a fixed-width lookahead, so matching one glob against one
path costs at most about len(path) * len(glob) steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

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
_NOT_SLASH: Final = frozenset(range(256)) - {_SLASH}

# Tokens of a glob: an atom is the set of bytes one position may hold (never `/`).
Atom = frozenset[int]
_STAR: Final = "*"  # any run of bytes within a segment
_SEP: Final = "/"  # the end of a segment
_DIRS: Final = "**/"  # zero or more whole directories
_ANY: Final = "**"  # everything (only at the end of a glob)
Token = Atom | str


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
        tokens = _collapse(_tokens(glob))
    except _NeverMatches:
        return None
    slashes = sum(token == _SEP for token in tokens)
    unbounded = _DIRS in tokens or _ANY in tokens
    return Translation(_render(tokens), slashes, unbounded)


def _tokens(glob: str) -> list[Token]:
    tokens: list[Token] = []
    i, end = 0, len(glob)
    while i < end:
        char = glob[i]
        if char == "*":
            stars_end = i
            while stars_end < end and glob[stars_end] == "*":
                stars_end += 1
            i = _star_tokens(glob, i, stars_end, tokens)
        elif char == "?":
            tokens.append(_NOT_SLASH)
            i += 1
        elif char == "\\":
            if i + 1 >= end:
                raise _NeverMatches
            tokens.append(_SEP if glob[i + 1] == "/" else frozenset([ord(glob[i + 1])]))
            i += 2
        elif char == "[":
            members, i = _bracket(glob, i + 1)
            tokens.append(members)
        else:
            tokens.append(_SEP if char == "/" else frozenset([ord(char)]))
            i += 1
    return tokens


def _star_tokens(glob: str, start: int, stop: int, tokens: list[Token]) -> int:
    """Append the tokens of the run of stars glob[start:stop]; return the index after it."""
    if stop - start < 2 or not _is_double_star(glob, start, stop):
        tokens.append(_STAR)
        return stop
    if stop == len(glob):
        tokens.append(_ANY)
        return stop
    if glob[stop] == "/":
        tokens.append(_DIRS)
        return stop + 1
    # `**\/`: git lets the `**` cross directories but then wants the escaped `/`, so it is
    # one or more whole directories (paths hold no empty segment): `*/` then `**/`.
    tokens.extend([_STAR, _SEP, _DIRS])
    return stop + 2


def _is_double_star(glob: str, start: int, stop: int) -> bool:
    """A run of stars crosses directories only when it is a whole path segment."""
    after = glob[stop : stop + 2]
    return (start == 0 or glob[start - 1] == "/") and (
        stop == len(glob) or after[:1] == "/" or after == "\\/"
    )


def _collapse(tokens: list[Token]) -> list[Token]:
    """`**/**/` is `**/`, and `**/**` is `**`."""
    out: list[Token] = []
    for token in tokens:
        if out and out[-1] == _DIRS and token in (_DIRS, _ANY):
            out[-1] = token
        else:
            out.append(token)
    return out


def _render(tokens: Sequence[Token]) -> str:
    """Blocks of segments separated by `**/` (or ended by a trailing `**`): the first block is
    anchored at the start, the last at the end, each block in between is placed leftmost."""
    parts: list[str] = []
    block: list[Token] = []
    after_dirs = False
    for token in [*tokens, None]:
        if token is not None and token not in (_DIRS, _ANY):
            block.append(token)
            continue
        regex = _render_block(block)
        if after_dirs:
            regex = _leftmost_block(regex) if token is not None else f"(?:.*/)?{regex}"
        parts.append(regex)
        if token == _ANY:
            parts.append(".*")
        after_dirs, block = token == _DIRS, []
    return "".join(parts)


def _leftmost_block(block: str) -> str:
    """Skip whole directories until `block` (which ends in `/`) matches, then match it."""
    return f"(?:(?!{block})[^/]*/)*{block}"


def _render_block(tokens: Sequence[Token]) -> str:
    parts: list[str] = []
    segment: list[Atom | str] = []
    for token in tokens:
        if token == _SEP:
            parts.append(_render_segment(segment))
            parts.append("/")
            segment = []
        else:
            segment.append(token)
    parts.append(_render_segment(segment))
    return "".join(parts)


def _render_segment(tokens: Sequence[Token]) -> str:
    """A segment is chunks of atoms separated by single stars: the first chunk is anchored at
    the segment's start, the last at its end, the middle ones are placed leftmost."""
    chunks: list[list[Atom]] = [[]]
    for token in tokens:
        if token == _STAR:
            chunks.append([])
        elif isinstance(token, frozenset):
            chunks[-1].append(token)
    if len(chunks) == 1:
        return _fixed(chunks[0])
    middle = "".join(_leftmost_chunk(chunk) for chunk in chunks[1:-1])
    return f"{_fixed(chunks[0])}{middle}[^/]*{_fixed(chunks[-1])}"


def _leftmost_chunk(chunk: Sequence[Atom]) -> str:
    """Match up to and including the leftmost occurrence of `chunk` within the segment.

    Bytes that cannot start the chunk are skipped by one character class; at a byte that can,
    a lookahead tells whether the chunk starts there. Only one way through is possible."""
    fixed = _fixed(chunk)
    skip_members = _NOT_SLASH - chunk[0]
    skip = f"{_char_set(skip_members)}*" if skip_members else ""
    if len(chunk) == 1:
        return skip + fixed
    return f"{skip}(?:(?!{fixed}){_atom(chunk[0])}{skip})*{fixed}"


def _fixed(chunk: Sequence[Atom]) -> str:
    return "".join(_atom(atom) for atom in chunk)


def _atom(atom: Atom) -> str:
    if len(atom) == 1:
        (value,) = atom
        return _escaped(value)
    return _char_set(atom)


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
    """A character class; a large one is written as the complement of the rest, which is
    shorter and compiles faster (`[^/a]` rather than three ranges)."""
    if not members:
        return "(?!)"
    if len(members) > 128:
        return f"[^{_ranges(frozenset(range(256)) - members)}]"
    return f"[{_ranges(members)}]"


def _ranges(members: frozenset[int]) -> str:
    ranges: list[str] = []
    ordered = sorted(members)
    start = previous = ordered[0]
    for value in [*ordered[1:], -2]:
        if value != previous + 1:
            last = "" if start == previous else f"-{_escaped(previous)}"
            ranges.append(f"{_escaped(start)}{last}")
            start = value
        previous = value
    return "".join(ranges)


def _escaped(value: int) -> str:
    char = chr(value)
    return char if char.isascii() and char.isalnum() else f"\\x{value:02x}"


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
