"""`.backupignore` and host-side exclude rules with git's gitignore semantics, for a walker.

Precedence model (the same as git's, where the host-side patterns play the part of
`git ls-files --exclude=PAT`, which git also ranks above every .gitignore file):

1. The host-side patterns (`--exclude`, and any other lists the caller passes, such as a
   mount's configured excludes), anchored at the source root, are asked first. They form
   one list: the lists in the order given, `--exclude` last.
2. Then the `.backupignore` files from the entry's own directory up to the source root:
   the deepest file that has a matching line decides.
3. Within one list of patterns the last matching line wins; a `!` line re-includes.
4. Nothing matches: the entry is kept.

The walker never descends into an excluded directory, so nothing below it can be
re-included (`dir/` then `!dir/keep` keeps nothing; `dir/*` then `!dir/keep` keeps `keep`).

A pattern without a `/` (other than a trailing one) is matched against the entry's name, at
any depth below its file; any other pattern is matched against the path relative to the
directory of its file (a leading `/` only anchors). A trailing `/` restricts a pattern to
directories; a symbolic link is never a directory here (pass is_dir=False for it, as git does).

Ignore files are read as git reads them (see files.py, which also caps their size).
Host-side values are taken whole, as git takes its command-line patterns (no comments, no
trimming). Names and patterns are compared byte for byte, like git.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from agsekit.snapshots.ignore.files import (
    MAX_FILES_IN_FORCE,
    MAX_LINES_IN_FORCE,
    MAX_LINES_PER_WALK,
    ParsedIgnoreFile,
    parse_ignore_file,
)
from agsekit.snapshots.ignore.patterns import (
    NO_HIT,
    Alternation,
    Hit,
    PatternSet,
    Rule,
    printable,
)

IgnoreFile = bytes | ParsedIgnoreFile | None  # content, parsed content, or no file
HostPatterns = tuple[str, Sequence[str]]  # (label for messages, patterns)
EXCLUDE_ORIGIN = "--exclude"
IGNORE_FILE = b".backupignore"
# What one pattern set asks about an entry of one directory: name lookups (plain names,
# suffixes, suffix hits, regex), then path regexes and this directory's path below the set.
_Check = tuple[
    dict[bytes, Hit],
    tuple[bytes, ...],
    tuple[tuple[bytes, Hit], ...],
    "Alternation | None",
    tuple[Alternation, ...],
    bytes,
]


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
        for by_name, by_path in zip(names, (paths[:2], paths[2:]), strict=True):
            regexes = tuple(regex for regex in by_path if regex is not None)
            check = (
                by_name.literals,
                by_name.suffixes,
                by_name.suffix_hits,
                by_name.regex,
                regexes,
                self.prefix,
            )
            checks.append(check if by_name.useful or regexes else None)
        return checks[0], checks[1]


@dataclass(slots=True)
class _Walk:
    """What all the rules of one walk share: the host-side patterns' hash and frame count,
    and how many pattern lines of tree ignore files have been applied so far."""

    fingerprint: str
    host_frames: int
    lines_used: int = 0

    def admit(
        self, ignore_file: IgnoreFile, label: Label, in_force: InForce, problems: list[str] | None
    ) -> tuple[PatternSet, int] | None:
        """The patterns of a directory's own ignore file and their line count, when they
        are to be applied on top of those `in_force`; otherwise None, and the reason (if
        any) goes to `problems`. `label` names the file when it is given as bytes."""
        if not ignore_file:
            return None
        parsed = _parsed(ignore_file, label)
        problem = parsed.problem or self._over_cap(parsed, in_force)
        if problem is not None:
            if problems is not None:
                problems.append(problem)
            return None
        if parsed.patterns is None:
            return None
        self.lines_used += parsed.pattern_lines
        return parsed.patterns, parsed.pattern_lines

    def _over_cap(self, parsed: ParsedIgnoreFile, in_force: InForce) -> str | None:
        lines = parsed.pattern_lines
        files, lines_in_force = in_force
        if parsed.patterns is None:
            return None
        if files >= MAX_FILES_IN_FORCE:
            reason = (
                f"{files} ignore files already apply in its folder, which is the limit "
                f"(the folder's own and those of the folders above it)"
            )
        elif lines_in_force + lines > MAX_LINES_IN_FORCE:
            reason = (
                f"with it, {lines_in_force + lines} pattern lines of ignore files would apply "
                f"in its folder, over the limit of {MAX_LINES_IN_FORCE}"
            )
        elif self.lines_used + lines > MAX_LINES_PER_WALK:
            reason = (
                f"the ignore files applied before it already hold {self.lines_used} "
                f"pattern lines, and the limit is {MAX_LINES_PER_WALK}"
            )
        else:
            return None
        return f"{printable(parsed.origin)} is not applied: {reason}"


Label = tuple[str | None, bytes]  # (the origin the caller gave, the directory's name)
InForce = tuple[int, int]  # (ignore files, their pattern lines) in force in a folder


def _parsed(ignore_file: bytes | ParsedIgnoreFile, label: Label) -> ParsedIgnoreFile:
    if isinstance(ignore_file, ParsedIgnoreFile):
        return ignore_file
    origin, name = label
    if origin is None:  # the best label without the directory's path
        origin = os.fsdecode(name + b"/" + IGNORE_FILE if name else IGNORE_FILE)
    return parse_ignore_file(ignore_file, origin)


class IgnoreRules:
    """The exclusion rules in force in one directory of the source tree.

    Immutable, except that the rules of one walk count the ignore-file lines applied, so
    that the caps on them hold: call child() once per directory."""

    __slots__ = (
        "_depends_on_directory",
        "_dir_checks",
        "_dir_sets",
        "_file_checks",
        "_file_sets",
        "_frames",
        "_in_force",
        "_walk",
    )

    def __init__(self, frames: tuple[_Frame, ...], walk: _Walk, in_force: int) -> None:
        self._frames = frames  # in the order they are asked: host-side, then deepest first
        self._walk = walk
        self._in_force = in_force  # pattern lines of the tree ignore files among the frames
        self._depends_on_directory = any(f.patterns.depends_on_directory for f in frames)
        dir_checks: list[_Check] = []
        file_checks: list[_Check] = []
        dir_sets: list[PatternSet] = []
        file_sets: list[PatternSet] = []
        for frame in frames:
            for_dirs, for_files = frame.checks()
            if for_dirs is not None:
                dir_checks.append(for_dirs)
                dir_sets.append(frame.patterns)
            if for_files is not None:
                file_checks.append(for_files)
                file_sets.append(frame.patterns)
        self._dir_checks = tuple(dir_checks)
        self._file_checks = tuple(file_checks)
        self._dir_sets = tuple(dir_sets)  # the pattern set of each check, for explanations
        self._file_sets = tuple(file_sets)

    @classmethod
    def root(
        cls,
        excludes: Sequence[str],
        ignore_file: IgnoreFile,
        *,
        host_patterns: Sequence[HostPatterns] = (),
        origin: str | None = None,
        problems: list[str] | None = None,
    ) -> IgnoreRules:
        """Rules for the source root of one walk.

        `excludes` are the --exclude patterns and `host_patterns` further labelled lists
        (gitignore syntax, anchored at the root, taking precedence over every .backupignore
        file; one list in the order given, `excludes` last, so that they win among them).
        `ignore_file` is SRC/.backupignore (None: there is none, or tree files are not to
        be consulted), `origin` its label when it is given as bytes (default .backupignore).
        A sentence for each ignore file that is not applied (over a cap) is appended to
        `problems`, here and in every child() of these rules."""
        lists = [*host_patterns, (EXCLUDE_ORIGIN, excludes)]
        host = [
            Rule(label, number, os.fsencode(pattern))
            for label, patterns in lists
            for number, pattern in enumerate(patterns, start=1)
        ]
        fingerprint = hashlib.sha256(b"\n".join(rule.text for rule in host)).hexdigest()
        frames: list[_Frame] = []
        host_set = PatternSet.build(host)
        if host_set is not None:
            frames.append(_Frame(host_set, b"", 0))
        walk = _Walk(fingerprint, len(frames))
        own = walk.admit(ignore_file, (origin, b""), (0, 0), problems)
        if own is not None:
            frames.append(_Frame(own[0], b"", 0))
        return cls(tuple(frames), walk, 0 if own is None else own[1])

    def child(
        self,
        name: bytes,
        ignore_file: IgnoreFile,
        origin: str | None = None,
        problems: list[str] | None = None,
    ) -> IgnoreRules:
        """Rules for the subdirectory `name` of this directory; `ignore_file` is that
        subdirectory's .backupignore (None: none, or tree files are not consulted). When it
        is given as bytes, `origin` labels it (pass its path from the source root; the
        default names only the subdirectory). See root() for `problems`."""
        own = (
            self._walk.admit(ignore_file, (origin, name), self._in_force_here(), problems)
            if ignore_file
            else None
        )
        if own is None and not self._depends_on_directory:
            return self  # only name patterns: the same rules hold one level down
        frames = [frame.below(name) for frame in self._frames]
        in_force = self._in_force
        if own is not None:
            frames.insert(self._walk.host_frames, _Frame(own[0], b"", 0))
            in_force += own[1]
        return IgnoreRules(tuple(frames), self._walk, in_force)

    def _in_force_here(self) -> InForce:
        return len(self._frames) - self._walk.host_frames, self._in_force

    def excluded(self, name: bytes, is_dir: bool) -> bool:
        """Whether the entry `name` (one path component) of this directory is excluded."""
        checks = self._dir_checks if is_dir else self._file_checks
        if not checks:
            return False
        # The body of _best_hit, inlined: this runs once per entry of the source tree.
        for literals, suffixes, suffix_hits, by_name, by_path, prefix in checks:
            order, verdict = literals.get(name, NO_HIT)
            if suffixes and name.endswith(suffixes):
                for suffix, (suffix_order, suffix_verdict) in suffix_hits:
                    if suffix_order < order:
                        break
                    if name.endswith(suffix):
                        order, verdict = suffix_order, suffix_verdict
                        break
            if by_name is not None:
                match = by_name[0](name)
                if match is not None and by_name[1][match.lastindex or 0][0] > order:
                    order, verdict = by_name[1][match.lastindex or 0]
            if by_path:
                path = prefix + name
                for fullmatch, hits in by_path:
                    match = fullmatch(path)
                    if match is not None and hits[match.lastindex or 0][0] > order:
                        order, verdict = hits[match.lastindex or 0]
            if order >= 0:
                return verdict
        return False

    def deciding_rule(self, name: bytes, is_dir: bool) -> Rule | None:
        """The rule that decides about the entry `name` of this directory (an exclusion or
        a `!` re-include), None when no rule matches it. Slower than excluded()."""
        checks = self._dir_checks if is_dir else self._file_checks
        sets = self._dir_sets if is_dir else self._file_sets
        for check, patterns in zip(checks, sets, strict=True):
            order, _ = _best_hit(check, name)
            if order >= 0:
                return patterns.rules[order]
        return None

    def explain(self, name: bytes, is_dir: bool) -> Rule | None:
        """The rule that leaves the entry `name` of this directory out, None when it is kept.
        Its describe() gives text such as: `*.log` (sub/.backupignore line 3)."""
        rule = self.deciding_rule(name, is_dir)
        return None if rule is None or rule.text.startswith(b"!") else rule

    @property
    def empty(self) -> bool:
        """No patterns at all anywhere in the chain."""
        return not self._frames

    def fingerprint(self) -> str:
        """A hash of the host-side patterns these rules started from."""
        return self._walk.fingerprint


def _best_hit(check: _Check, name: bytes) -> Hit:
    """The last pattern of one set that matches the entry `name`, or NO_HIT."""
    literals, _, suffix_hits, by_name, by_path, prefix = check
    candidates = [literals.get(name, NO_HIT)]
    candidates += [hit for suffix, hit in suffix_hits if name.endswith(suffix)]
    regexes = [(by_name, name)] if by_name is not None else []
    regexes += [(alternation, prefix + name) for alternation in by_path]
    for (fullmatch, hits), subject in regexes:
        match = fullmatch(subject)
        if match is not None:
            candidates.append(hits[match.lastindex or 0])
    return max(candidates)
