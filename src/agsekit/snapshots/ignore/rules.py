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
Names and patterns are compared byte for byte, like git.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from agsekit.snapshots.ignore.patterns import NO_HIT, Alternation, PatternSet

_UTF8_BOM = b"\xef\xbb\xbf"
# What one pattern set asks about an entry of one directory: name lookups (plain names,
# suffixes, suffix hits, regex), then path patterns and this directory's path below the set.
_Check = tuple[
    dict[bytes, tuple[int, bool]],
    tuple[bytes, ...],
    tuple[tuple[bytes, tuple[int, bool]], ...],
    "Alternation | None",
    "Alternation | None",
    bytes,
]


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
    to the pattern set's own directory (b"" or ending in b"/"), `slashes` its depth."""

    patterns: PatternSet
    prefix: bytes
    slashes: int

    def below(self, name: bytes) -> _Frame:
        return _Frame(self.patterns, self.prefix + name + b"/", self.slashes + 1)

    def checks(self) -> tuple[_Check | None, _Check | None]:
        """What to evaluate for a directory entry and for a file entry (None: nothing)."""
        names = self.patterns.name_matchers(self.prefix)
        paths = self.patterns.path_alternations(self.slashes)
        checks: list[_Check | None] = []
        for by_name, by_path in zip(names, paths, strict=True):
            useful = by_name.useful or by_path is not None
            check = (
                by_name.literals,
                by_name.suffixes,
                by_name.suffix_hits,
                by_name.regex,
                by_path,
                self.prefix,
            )
            checks.append(check if useful else None)
        return checks[0], checks[1]


class IgnoreRules:
    """The exclusion rules in force in one directory of the source tree (immutable)."""

    __slots__ = (
        "_cmdline_frames",
        "_depends_on_directory",
        "_dir_checks",
        "_file_checks",
        "_fingerprint",
        "_frames",
    )

    def __init__(self, frames: tuple[_Frame, ...], cmdline_frames: int, fingerprint: str) -> None:
        self._frames = frames  # in the order they are asked: --exclude, then deepest first
        self._cmdline_frames = cmdline_frames
        self._fingerprint = fingerprint
        self._depends_on_directory = any(f.patterns.depends_on_directory for f in frames)
        checks = [frame.checks() for frame in frames]
        self._dir_checks = tuple(dirs for dirs, _ in checks if dirs is not None)
        self._file_checks = tuple(files for _, files in checks if files is not None)

    @classmethod
    def root(cls, excludes: Sequence[str], ignore_file: bytes | None) -> IgnoreRules:
        """Rules for the source root: `excludes` are --exclude patterns (gitignore syntax,
        anchored at the root, taking precedence over every .backupignore file);
        `ignore_file` is the content of SRC/.backupignore or None."""
        exclude_lines = [os.fsencode(pattern).decode("latin-1") for pattern in excludes]
        fingerprint = hashlib.sha256("\n".join(exclude_lines).encode("latin-1")).hexdigest()
        frames: list[_Frame] = []
        cmdline = PatternSet.build(exclude_lines)
        if cmdline is not None:
            frames.append(_Frame(cmdline, b"", 0))
        file_patterns = PatternSet.build(ignore_file_lines(ignore_file)) if ignore_file else None
        if file_patterns is not None:
            frames.append(_Frame(file_patterns, b"", 0))
        return cls(tuple(frames), len(frames) - (file_patterns is not None), fingerprint)

    def child(self, name: bytes, ignore_file: bytes | None) -> IgnoreRules:
        """Rules for the subdirectory `name` of this directory; `ignore_file` is the
        content of that subdirectory's .backupignore (or None)."""
        own = PatternSet.build(ignore_file_lines(ignore_file)) if ignore_file else None
        if own is None and not self._depends_on_directory:
            return self  # only name patterns: the same rules hold one level down
        frames = [frame.below(name) for frame in self._frames]
        if own is not None:
            frames.insert(self._cmdline_frames, _Frame(own, b"", 0))
        return IgnoreRules(tuple(frames), self._cmdline_frames, self._fingerprint)

    def excluded(self, name: bytes, is_dir: bool) -> bool:
        """Whether the entry `name` (one path component) of this directory is excluded."""
        checks = self._dir_checks if is_dir else self._file_checks
        if not checks:
            return False
        for literals, suffixes, suffix_hits, by_name, by_path, prefix in checks:
            line, verdict = literals.get(name, NO_HIT)
            if suffixes and name.endswith(suffixes):
                for suffix, (suffix_line, suffix_verdict) in suffix_hits:
                    if suffix_line < line:
                        break
                    if name.endswith(suffix):
                        line, verdict = suffix_line, suffix_verdict
                        break
            if by_name is not None:
                match = by_name[0](name)
                if match is not None and by_name[1][match.lastindex or 0][0] > line:
                    line, verdict = by_name[1][match.lastindex or 0]
            if by_path is not None:
                match = by_path[0](prefix + name)
                if match is not None and by_path[1][match.lastindex or 0][0] > line:
                    line, verdict = by_path[1][match.lastindex or 0]
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
