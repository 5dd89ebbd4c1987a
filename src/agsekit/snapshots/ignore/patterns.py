"""The patterns of one ignore file (or of --exclude), compiled for fast per-entry lookups.

An entry is looked up by its name alone wherever possible: patterns without a slash match
names; a pattern such as `docs/build/` or `/dist`, whose directory part is plain text,
becomes a name pattern of exactly that directory. Only the remaining patterns (with `**` or
wildcards in their directory part) are matched against the path below the ignore file.

Name patterns are split into plain names (a dict), `*suffix` forms (str.endswith) and the
rest (one regex alternation, last line first). Every lookup yields the line number of the
last matching pattern, so that the caller can pick the last match across the three.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agsekit.snapshots.ignore.wildmatch import Translation, literal, translate

Hit = tuple[int, bool]  # (line number, excluded?) of a matching pattern
NO_HIT: Hit = (-1, False)
Matcher = Callable[[bytes], "re.Match[bytes] | None"]
Alternation = tuple[Matcher, tuple[Hit, ...]]  # fullmatch, group index -> hit


@dataclass(frozen=True, slots=True)
class Pattern:
    line: int
    excluded: bool  # False for a `!` re-include
    dir_only: bool
    glob: str  # without `!`, the leading `/` and the trailing `/`
    translation: Translation

    @property
    def hit(self) -> Hit:
        return (self.line, self.excluded)

    def may_match_at(self, slashes: int) -> bool:
        minimum = self.translation.min_slashes
        return minimum == slashes or (self.translation.unbounded and minimum <= slashes)


@dataclass(frozen=True, slots=True)
class NameMatcher:
    """Lookups of one name among several patterns; `regex` is None when not needed."""

    literals: dict[bytes, Hit]
    suffixes: tuple[bytes, ...]
    suffix_hits: tuple[tuple[bytes, Hit], ...]  # last line first
    regex: Alternation | None

    @classmethod
    def build(cls, patterns: Sequence[Pattern]) -> NameMatcher:
        literals: dict[bytes, Hit] = {}
        suffix_hits: list[tuple[bytes, Hit]] = []
        others: list[Pattern] = []
        for pattern in sorted(patterns, key=lambda p: p.line):
            name = literal(pattern.glob)
            suffix = literal(pattern.glob[1:]) if pattern.glob.startswith("*") else None
            if name is not None:
                literals[name.encode("latin-1")] = pattern.hit
            elif suffix is not None:
                suffix_hits.insert(0, (suffix.encode("latin-1"), pattern.hit))
            else:
                others.append(pattern)
        return cls(
            literals,
            tuple(suffix for suffix, _ in suffix_hits),
            tuple(suffix_hits),
            compile_alternation(others),
        )

    @property
    def useful(self) -> bool:
        return bool(self.literals or self.suffixes or self.regex)


def compile_alternation(patterns: Sequence[Pattern]) -> Alternation | None:
    """One regex for several patterns, the last line first, so that the first alternative
    that matches (its group index is the match's lastindex) is the last matching line."""
    if not patterns:
        return None
    ordered = sorted(patterns, key=lambda pattern: pattern.line, reverse=True)
    regex = "|".join(f"({pattern.translation.regex})" for pattern in ordered)
    hits = (NO_HIT, *(pattern.hit for pattern in ordered))
    return re.compile(regex.encode("latin-1"), re.DOTALL).fullmatch, hits


def parse_pattern(line: str, number: int) -> tuple[bool, Pattern] | None:
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
    return is_name_pattern, Pattern(number, excluded, dir_only, glob, translation)


def _as_name_pattern(pattern: Pattern) -> tuple[bytes, Pattern] | None:
    """(directory prefix, name pattern) when the pattern's directory part is plain text."""
    if pattern.translation.unbounded:
        return None
    directory, slash, last = pattern.glob.rpartition("/")
    directory_text = literal(directory)
    translation = translate(last) if last else None
    if directory_text is None or translation is None:
        return None
    name_pattern = Pattern(pattern.line, pattern.excluded, pattern.dir_only, last, translation)
    return (directory_text + slash).encode("latin-1"), name_pattern


@dataclass(slots=True)
class PatternSet:
    name_patterns: tuple[Pattern, ...]
    by_directory: dict[bytes, tuple[Pattern, ...]]  # directory prefix -> its name patterns
    path_patterns: tuple[Pattern, ...]
    _name_cache: dict[tuple[int, ...], tuple[NameMatcher, NameMatcher]] = field(
        default_factory=dict
    )
    _path_cache: dict[int, tuple[Alternation | None, Alternation | None]] = field(
        default_factory=dict
    )

    @classmethod
    def build(cls, lines: Sequence[str]) -> PatternSet | None:
        name_patterns: list[Pattern] = []
        by_directory: dict[bytes, list[Pattern]] = {}
        path_patterns: list[Pattern] = []
        for number, line in enumerate(lines):
            parsed = parse_pattern(line, number)
            if parsed is None:
                continue
            is_name_pattern, pattern = parsed
            in_directory = None if is_name_pattern else _as_name_pattern(pattern)
            if is_name_pattern:
                name_patterns.append(pattern)
            elif in_directory is not None:
                by_directory.setdefault(in_directory[0], []).append(in_directory[1])
            else:
                path_patterns.append(pattern)
        if not (name_patterns or by_directory or path_patterns):
            return None
        return cls(
            tuple(name_patterns),
            {prefix: tuple(patterns) for prefix, patterns in by_directory.items()},
            tuple(path_patterns),
        )

    @property
    def depends_on_directory(self) -> bool:
        return bool(self.by_directory or self.path_patterns)

    def name_matchers(self, prefix: bytes) -> tuple[NameMatcher, NameMatcher]:
        """For the directory at `prefix` below this set's directory: the name lookups
        for directory entries and for file entries."""
        extra = self.by_directory.get(prefix, ())
        key = tuple(pattern.line for pattern in extra)
        cached = self._name_cache.get(key)
        if cached is None:
            patterns = self.name_patterns + extra
            cached = (
                NameMatcher.build(patterns),
                NameMatcher.build([p for p in patterns if not p.dir_only]),
            )
            self._name_cache[key] = cached
        return cached

    def path_alternations(self, slashes: int) -> tuple[Alternation | None, Alternation | None]:
        """For entries whose path below this set's directory holds `slashes` slashes: the
        path patterns that can match them, for directory entries and for file entries."""
        cached = self._path_cache.get(slashes)
        if cached is None:
            fitting = [p for p in self.path_patterns if p.may_match_at(slashes)]
            cached = (
                compile_alternation(fitting),
                compile_alternation([p for p in fitting if not p.dir_only]),
            )
            self._path_cache[slashes] = cached
        return cached
