"""The patterns of one ignore file (or of the host-side excludes), compiled for fast lookups.

An entry is looked up by its name alone wherever possible: patterns without a slash match
names; a pattern such as `docs/build/` or `/dist/*.log`, whose directory part is plain text
and whose last part is a plain name or a `*suffix`, becomes a name lookup in exactly that
directory. The remaining patterns (with wildcards in their directory part, or `**`) are
matched against the path below the pattern set's directory.

Name patterns are split into plain names (a dict), `*suffix` forms (str.endswith) and the
rest (one regex alternation, last pattern first). Every lookup yields the order (position
in the set) of the last matching pattern, so that the caller can pick the last match of all.

Each pattern is compiled into one regex (or two: for directory entries and for files),
whatever the tree looks like, so the compile work is linear in the number of patterns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agsekit.snapshots.ignore.wildmatch import Translation, literal, translate

Hit = tuple[int, bool]  # (order of a matching pattern, excluded?)
NO_HIT: Hit = (-1, False)
Matcher = Callable[[bytes], "re.Match[bytes] | None"]
Alternation = tuple[Matcher, tuple[Hit, ...]]  # fullmatch, marker group index -> hit


@dataclass(frozen=True, slots=True)
class Rule:
    """Where a pattern comes from: `origin` is the label its list was given (such as
    `sub/.backupignore` or `--exclude`), `line` its 1-based line (or position in the list),
    `text` the pattern as it takes effect (line ending and unescaped trailing spaces gone)."""

    origin: str
    line: int
    text: bytes

    def describe(self) -> str:
        """For messages: `*.log` (sub/.backupignore line 3), control characters escaped."""
        return f"`{printable(self.text)}` ({printable(self.origin)} line {self.line})"


def printable(text: bytes | str) -> str:
    """Text safe to print on a terminal (an agent chooses names and patterns): invalid
    UTF-8, control and format characters, surrogates and line separators escaped."""
    decoded = text.decode("utf-8", "backslashreplace") if isinstance(text, bytes) else text
    return "".join(repr(char)[1:-1] if _unsafe(char) else char for char in decoded)


def _unsafe(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


@dataclass(frozen=True, slots=True)
class Pattern:
    order: int
    excluded: bool  # False for a `!` re-include
    dir_only: bool
    glob: str  # without `!`, the leading `/` and the trailing `/`
    translation: Translation

    @property
    def hit(self) -> Hit:
        return (self.order, self.excluded)


@dataclass(frozen=True, slots=True)
class NameMatcher:
    """Lookups of one name among several patterns; `regex` is None when not needed."""

    literals: dict[bytes, Hit]
    suffixes: tuple[bytes, ...]
    suffix_hits: tuple[tuple[bytes, Hit], ...]  # last pattern first
    regex: Alternation | None

    @classmethod
    def build(cls, patterns: Sequence[Pattern], regex: Alternation | None) -> NameMatcher:
        """`patterns` in order; those that are neither plain names nor `*suffix` forms must
        be the ones `regex` was compiled from."""
        literals: dict[bytes, Hit] = {}
        suffix_hits: list[tuple[bytes, Hit]] = []
        for pattern in sorted(patterns, key=lambda p: p.order):
            name, suffix = _fast_form(pattern.glob)
            if name is not None:
                literals[name] = pattern.hit
            elif suffix is not None:
                suffix_hits.append((suffix, pattern.hit))
        suffix_hits.reverse()
        return cls(literals, tuple(suffix for suffix, _ in suffix_hits), tuple(suffix_hits), regex)

    @property
    def useful(self) -> bool:
        return bool(self.literals or self.suffixes or self.regex)


def _fast_form(glob: str) -> tuple[bytes | None, bytes | None]:
    """(the plain name, None) or (None, the suffix of a `*suffix` form) or (None, None)."""
    name = literal(glob)
    if name is not None:
        return name.encode("latin-1"), None
    suffix = literal(glob[1:]) if glob.startswith("*") else None
    return None, None if suffix is None else suffix.encode("latin-1")


def _needs_regex(pattern: Pattern) -> bool:
    return _fast_form(pattern.glob) == (None, None)


def compile_alternation(patterns: Sequence[Pattern]) -> Alternation | None:
    """One regex for several patterns, the last one first, so that the first alternative
    that matches is the last matching pattern. Each alternative ends in an empty marker
    group, whose index is the match's lastindex: only the alternative that matches sets a
    group, which keeps a failing lookup linear in the number of alternatives (sre clears
    the marks below a group's index each time an alternative sets one)."""
    if not patterns:
        return None
    ordered = sorted(patterns, key=lambda pattern: pattern.order, reverse=True)
    regex = "|".join(f"(?:{pattern.translation.regex})()" for pattern in ordered)
    hits = (NO_HIT, *(pattern.hit for pattern in ordered))
    return re.compile(regex.encode("latin-1"), re.DOTALL).fullmatch, hits


def parse_pattern(line: str, order: int) -> tuple[bool, Pattern] | None:
    """(matches names only?, pattern) for one gitignore line, None if it matches nothing."""
    excluded = not line.startswith("!")
    glob = line if excluded else line[1:]
    dir_only = glob.endswith("/")
    if dir_only:
        glob = glob[:-1]
    is_name_pattern = "/" not in glob
    if glob.startswith("/"):
        glob = glob[1:]
    translation = translate(glob) if glob else None
    if translation is None:
        return None
    return is_name_pattern, Pattern(order, excluded, dir_only, glob, translation)


def _as_name_pattern(pattern: Pattern) -> tuple[bytes, Pattern] | None:
    """(directory prefix, name pattern) when the directory part is plain text and the last
    part a plain name or `*suffix` (so that merging it into a directory's lookups costs no
    regex compile)."""
    if pattern.translation.unbounded:
        return None
    directory, slash, last = pattern.glob.rpartition("/")
    directory_text = literal(directory)
    translation = translate(last) if last else None
    if directory_text is None or translation is None or _fast_form(last) == (None, None):
        return None
    name_pattern = Pattern(pattern.order, pattern.excluded, pattern.dir_only, last, translation)
    return (directory_text + slash).encode("latin-1"), name_pattern


@dataclass(slots=True)
class PatternSet:
    rules: tuple[Rule, ...]  # indexed by a pattern's order
    name_patterns: tuple[Pattern, ...]
    by_directory: dict[bytes, tuple[Pattern, ...]]  # directory prefix -> its name patterns
    bounded_paths: dict[int, tuple[Pattern, ...]]  # slashes -> path patterns of that depth
    unbounded_paths: tuple[Pattern, ...]  # path patterns with `**`
    _name_cache: tuple[NameMatcher, NameMatcher] | None = None
    _path_cache: dict[int, tuple[Alternation | None, Alternation | None]] = field(
        default_factory=dict
    )
    _deep_cache: tuple[Alternation | None, Alternation | None] | None = None

    @classmethod
    def build(cls, rules: Sequence[Rule]) -> PatternSet | None:
        """The patterns of `rules` (in the order of precedence: a later one wins); None
        when none of them can match anything."""
        name_patterns: list[Pattern] = []
        by_directory: dict[bytes, list[Pattern]] = {}
        bounded: dict[int, list[Pattern]] = {}
        unbounded: list[Pattern] = []
        for order, rule in enumerate(rules):
            parsed = parse_pattern(rule.text.decode("latin-1"), order)
            if parsed is None:
                continue
            is_name_pattern, pattern = parsed
            in_directory = None if is_name_pattern else _as_name_pattern(pattern)
            if is_name_pattern:
                name_patterns.append(pattern)
            elif in_directory is not None:
                by_directory.setdefault(in_directory[0], []).append(in_directory[1])
            elif pattern.translation.unbounded:
                unbounded.append(pattern)
            else:
                bounded.setdefault(pattern.translation.min_slashes, []).append(pattern)
        if not (name_patterns or by_directory or bounded or unbounded):
            return None
        return cls(
            tuple(rules),
            tuple(name_patterns),
            {prefix: tuple(patterns) for prefix, patterns in by_directory.items()},
            {slashes: tuple(patterns) for slashes, patterns in bounded.items()},
            tuple(unbounded),
        )

    @property
    def depends_on_directory(self) -> bool:
        return bool(self.by_directory or self.bounded_paths or self.unbounded_paths)

    def name_matchers(self, prefix: bytes) -> tuple[NameMatcher, NameMatcher]:
        """For the directory at `prefix` below this set's directory: the name lookups
        for directory entries and for file entries."""
        if self._name_cache is None:
            self._name_cache = _name_matchers(self.name_patterns, ())
        extra = self.by_directory.get(prefix)
        if extra is None:
            return self._name_cache
        return _name_matchers(self.name_patterns, extra, self._name_cache)

    def path_alternations(self, slashes: int) -> tuple[Alternation | None, ...]:
        """For entries whose path below this set's directory holds `slashes` slashes: the
        path regexes that can match them, for directory entries and then for file entries
        (bounded ones of that depth, then ones with `**`)."""
        bounded = self._path_cache.get(slashes)
        if bounded is None:
            bounded = _dir_and_file_alternations(self.bounded_paths.get(slashes, ()))
            self._path_cache[slashes] = bounded
        if self._deep_cache is None:
            self._deep_cache = _dir_and_file_alternations(self.unbounded_paths)
        return bounded[0], self._deep_cache[0], bounded[1], self._deep_cache[1]


def _name_matchers(
    base: Sequence[Pattern],
    extra: Sequence[Pattern],
    compiled: tuple[NameMatcher, NameMatcher] | None = None,
) -> tuple[NameMatcher, NameMatcher]:
    """Directory and file lookups for `base` + `extra` (which never needs a regex); the
    regexes of `compiled` (built for `base` alone) are reused when given."""
    patterns = [*base, *extra]
    files = [p for p in patterns if not p.dir_only]
    if compiled is None:
        dir_regex, file_regex = _dir_and_file_alternations([p for p in base if _needs_regex(p)])
    else:
        dir_regex, file_regex = compiled[0].regex, compiled[1].regex
    return NameMatcher.build(patterns, dir_regex), NameMatcher.build(files, file_regex)


def _dir_and_file_alternations(
    patterns: Sequence[Pattern],
) -> tuple[Alternation | None, Alternation | None]:
    """The alternation for directory entries and the one for files (the same one when no
    pattern is for directories only)."""
    for_dirs = compile_alternation(patterns)
    files = [p for p in patterns if not p.dir_only]
    return for_dirs, for_dirs if len(files) == len(patterns) else compile_alternation(files)
