"""`.backupignore` and `--exclude` rules with git's gitignore semantics, for a directory walker.

Precedence model (the same as git's, where `--exclude` plays the part of
`git ls-files --exclude=PAT`, which git also ranks above every .gitignore file):

1. The `--exclude` patterns, anchored at the source root, are asked first.
2. Then the `.backupignore` files from the entry's own directory up to the source root:
   the deepest file that has a matching line decides.
3. Within one set of patterns the last matching line wins; a `!` line re-includes.
4. Nothing matches: the entry is kept.

The walker never descends into an excluded directory, so nothing below it can be
re-included (`dir/` then `!dir/keep` keeps nothing; `dir/*` then `!dir/keep` keeps `keep`).

A pattern without a `/` (other than a trailing one) is matched against the entry's name, at
any depth below its file; any other pattern is matched against the path relative to the
directory of its file (a leading `/` only anchors). A trailing `/` restricts a pattern to
directories; a symbolic link is never a directory here (pass is_dir=False for it, as git does).

Ignore files are read as git reads them: an UTF-8 BOM is skipped, `\\r\\n` counts as `\\n`,
blank and `#` lines are skipped, unescaped trailing spaces are stripped. `--exclude`
values are taken whole, as git takes its command-line patterns (no comments, no trimming).
Names and patterns are compared byte for byte (latin-1 strings), like git.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agsekit.snapshots.wildmatch import translate

_Matcher = Callable[[str], "re.Match[str] | None"]
# (fullmatch of an alternation, group index -> (line number, excluded?))
_Alternation = tuple[_Matcher, tuple[tuple[int, bool], ...]]
# (name patterns, path patterns, this directory's path relative to the patterns' directory)
_Check = tuple["_Alternation | None", "_Alternation | None", str]
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class _Pattern:
    line: int
    excluded: bool  # False for a `!` re-include
    dir_only: bool
    regex: str
    min_slashes: int
    unbounded: bool

    def may_match_at(self, slashes: int) -> bool:
        return self.min_slashes == slashes or (self.unbounded and self.min_slashes <= slashes)


def _compile_alternation(patterns: Sequence[_Pattern]) -> _Alternation | None:
    """One regex for several patterns, the last line first, so that the first alternative
    that matches (its group index is the match's lastindex) is the last matching line."""
    if not patterns:
        return None
    ordered = sorted(patterns, key=lambda pattern: pattern.line, reverse=True)
    regex = "|".join(f"({pattern.regex})" for pattern in ordered)
    info = ((-1, False), *((pattern.line, pattern.excluded) for pattern in ordered))
    return re.compile(regex, re.DOTALL).fullmatch, info


@dataclass(slots=True)
class _PatternSet:
    """The patterns of one ignore file (or of --exclude), compiled for lookups."""

    name_for_dirs: _Alternation | None
    name_for_files: _Alternation | None
    path_patterns: tuple[_Pattern, ...]
    _path_cache: dict[int, tuple[_Alternation | None, _Alternation | None]] = field(
        default_factory=dict
    )

    @classmethod
    def build(cls, lines: Sequence[str]) -> _PatternSet | None:
        name_patterns: list[_Pattern] = []
        path_patterns: list[_Pattern] = []
        for number, line in enumerate(lines):
            parsed = _parse_pattern(line, number)
            if parsed is not None:
                is_name_pattern, pattern = parsed
                (name_patterns if is_name_pattern else path_patterns).append(pattern)
        if not name_patterns and not path_patterns:
            return None
        return cls(
            name_for_dirs=_compile_alternation(name_patterns),
            name_for_files=_compile_alternation([p for p in name_patterns if not p.dir_only]),
            path_patterns=tuple(path_patterns),
        )

    def path_alternations(self, slashes: int) -> tuple[_Alternation | None, _Alternation | None]:
        """For entries whose path below this file holds `slashes` slashes: the path
        patterns that can match them, for directories and for files."""
        cached = self._path_cache.get(slashes)
        if cached is None:
            fitting = [p for p in self.path_patterns if p.may_match_at(slashes)]
            cached = (
                _compile_alternation(fitting),
                _compile_alternation([p for p in fitting if not p.dir_only]),
            )
            self._path_cache[slashes] = cached
        return cached


def _parse_pattern(line: str, number: int) -> tuple[bool, _Pattern] | None:
    """(matches names only?, pattern) for one gitignore line, None if it matches nothing."""
    excluded = not line.startswith("!")
    body = line if excluded else line[1:]
    dir_only = body.endswith("/")
    if dir_only:
        body = body[:-1]
    is_name_pattern = "/" not in body
    if body.startswith("/"):
        body = body[1:]
    if not body:
        return None
    translation = translate(body)
    if translation is None:
        return None
    pattern = _Pattern(
        number,
        excluded,
        dir_only,
        translation.regex,
        translation.min_slashes,
        translation.unbounded,
    )
    return is_name_pattern, pattern


def ignore_file_lines(content: bytes) -> list[str]:
    """The pattern lines of an ignore file, read as git reads a .gitignore."""
    if content.startswith(_UTF8_BOM):
        content = content[len(_UTF8_BOM) :]
    lines: list[str] = []
    for raw in content.split(b"\n"):
        if not raw or raw.startswith(b"#"):
            continue
        line = raw[:-1] if raw.endswith(b"\r") else raw
        lines.append(_strip_trailing_spaces(line.decode("latin-1")))
    return lines


def _strip_trailing_spaces(line: str) -> str:
    """Drop trailing spaces unless escaped by a backslash (`a\\ ` keeps its space)."""
    stripped = line.rstrip(" ")
    if stripped == line:
        return line
    backslashes = len(stripped) - len(stripped.rstrip("\\"))
    return stripped + " " if backslashes % 2 else stripped


@dataclass(frozen=True, slots=True)
class _Frame:
    """A pattern set seen from one directory: `prefix` is that directory's path relative
    to the pattern set's own directory ("" or ending in "/"), `slashes` its depth."""

    patterns: _PatternSet
    prefix: str
    slashes: int

    def below(self, name: str) -> _Frame:
        return _Frame(self.patterns, f"{self.prefix}{name}/", self.slashes + 1)

    def checks(self) -> tuple[_Check, _Check]:
        """What to evaluate for a directory entry and for a file entry."""
        path_for_dirs, path_for_files = self.patterns.path_alternations(self.slashes)
        return (
            (self.patterns.name_for_dirs, path_for_dirs, self.prefix),
            (self.patterns.name_for_files, path_for_files, self.prefix),
        )


class IgnoreRules:
    """The exclusion rules in force in one directory of the source tree (immutable)."""

    __slots__ = ("_cmdline_frames", "_dir_checks", "_file_checks", "_fingerprint", "_frames")

    def __init__(self, frames: tuple[_Frame, ...], cmdline_frames: int, fingerprint: str) -> None:
        self._frames = frames  # in the order they are asked: --exclude, then deepest first
        self._cmdline_frames = cmdline_frames
        self._fingerprint = fingerprint
        checks = [frame.checks() for frame in frames]
        self._dir_checks = tuple(dirs for dirs, _ in checks if _useful(dirs))
        self._file_checks = tuple(files for _, files in checks if _useful(files))

    @classmethod
    def root(cls, excludes: Sequence[str], ignore_file: bytes | None) -> IgnoreRules:
        """Rules for the source root: `excludes` are --exclude patterns (gitignore syntax,
        anchored at the root, taking precedence over every .backupignore file);
        `ignore_file` is the content of SRC/.backupignore or None."""
        exclude_lines = [os.fsencode(pattern).decode("latin-1") for pattern in excludes]
        fingerprint = hashlib.sha256("\n".join(exclude_lines).encode("latin-1")).hexdigest()
        frames: list[_Frame] = []
        cmdline = _PatternSet.build(exclude_lines)
        if cmdline is not None:
            frames.append(_Frame(cmdline, "", 0))
        file_patterns = _PatternSet.build(ignore_file_lines(ignore_file)) if ignore_file else None
        if file_patterns is not None:
            frames.append(_Frame(file_patterns, "", 0))
        return cls(tuple(frames), len(frames) - (file_patterns is not None), fingerprint)

    def child(self, name: bytes, ignore_file: bytes | None) -> IgnoreRules:
        """Rules for the subdirectory `name` of this directory; `ignore_file` is the
        content of that subdirectory's .backupignore (or None)."""
        own = _PatternSet.build(ignore_file_lines(ignore_file)) if ignore_file else None
        if own is None and not any(frame.patterns.path_patterns for frame in self._frames):
            return self  # only name patterns: the same rules hold one level down
        text = name.decode("latin-1")
        frames = [frame.below(text) for frame in self._frames]
        if own is not None:
            frames.insert(self._cmdline_frames, _Frame(own, "", 0))
        return IgnoreRules(tuple(frames), self._cmdline_frames, self._fingerprint)

    def excluded(self, name: bytes, is_dir: bool) -> bool:
        """Whether the entry `name` (one path component) of this directory is excluded."""
        checks = self._dir_checks if is_dir else self._file_checks
        if not checks:
            return False
        text = name.decode("latin-1")
        for by_name, by_path, prefix in checks:
            line, verdict = -1, False
            if by_name is not None:
                match = by_name[0](text)
                if match is not None:
                    line, verdict = by_name[1][match.lastindex or 0]
            if by_path is not None:
                match = by_path[0](prefix + text)
                if match is not None:
                    path_line, path_verdict = by_path[1][match.lastindex or 0]
                    if path_line > line:
                        line, verdict = path_line, path_verdict
            if line >= 0:
                return verdict
        return False

    @property
    def empty(self) -> bool:
        """No patterns at all anywhere in the chain."""
        return not self._frames

    def fingerprint(self) -> str:
        """A hash of the --exclude patterns these rules started from."""
        return self._fingerprint


def _useful(check: _Check) -> bool:
    return check[0] is not None or check[1] is not None
