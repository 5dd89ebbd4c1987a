"""Reading one ignore file as git reads a .gitignore, within caps that bound its cost.

An agent writes these files, so each is capped: at most MAX_FILE_BYTES of text (a reader
need not read more than one byte past it), at most MAX_PATTERN_LINES pattern lines (blank
and `#` lines do not count) and MAX_LINE_BYTES per line. A file over a cap is not applied
at all, never in part: dropping some of its lines could drop a `!` re-include and so leave
out more, while ignoring the whole file backs up more, which is the safe direction for
data. The caller gets the reason as `problem`, to show as a warning.

Each pattern costs a little on every entry of the folders it applies to and on building
the rules of every walk, so IgnoreRules also caps the pattern lines in force in one folder
and those applied in one walk (the numbers are in benchmarks/ignore_bench.py --hostile).
"""

from __future__ import annotations

from dataclasses import dataclass

from agsekit.snapshots.ignore.patterns import PatternSet, Rule, printable

MAX_FILE_BYTES = 256 * 1024
MAX_PATTERN_LINES = 1000
MAX_LINE_BYTES = 4096  # PATH_MAX: a longer glob is no use on a real path
# Across files (enforced by IgnoreRules): the ignore files in force in one folder (its own
# and those above it) and their pattern lines, and the pattern lines of one walk.
MAX_FILES_IN_FORCE = 32
MAX_LINES_IN_FORCE = 2000
MAX_LINES_PER_WALK = 10000
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class ParsedIgnoreFile:
    """An ignore file ready to apply: `patterns` is None when it has nothing to apply (no
    pattern that can match, or a cap exceeded, then `problem` says why in a sentence)."""

    origin: str
    patterns: PatternSet | None
    problem: str | None = None
    pattern_lines: int = 0  # of the file, when it is applied


def parse_ignore_file(content: bytes, origin: str) -> ParsedIgnoreFile:
    """Parse the ignore file `origin` (a label for messages, such as `sub/.backupignore`)."""
    rules = ignore_file_rules(content, origin) if len(content) <= MAX_FILE_BYTES else []
    reason = _over_cap(content, rules)
    if reason is not None:
        return ParsedIgnoreFile(origin, None, f"{printable(origin)} is not applied: {reason}")
    patterns = PatternSet.build(rules)
    return ParsedIgnoreFile(origin, patterns, None, len(rules) if patterns else 0)


def _over_cap(content: bytes, rules: list[Rule]) -> str | None:
    """Why a file of `content` (read as `rules` unless too long) is not applied, if it is not."""
    if len(content) > MAX_FILE_BYTES:
        return f"it is larger than the limit of {MAX_FILE_BYTES} bytes"  # maybe read in part
    if len(rules) > MAX_PATTERN_LINES:
        return f"it has {len(rules)} pattern lines, over the limit of {MAX_PATTERN_LINES}"
    for rule in rules:
        if len(rule.text) > MAX_LINE_BYTES:
            size = len(rule.text)
            return f"line {rule.line} is {size} bytes long, over the limit of {MAX_LINE_BYTES}"
    return None


def ignore_file_rules(content: bytes, origin: str) -> list[Rule]:
    """The pattern lines of an ignore file, read as git reads a .gitignore: an UTF-8 BOM is
    skipped, `\\r\\n` counts as `\\n`, blank and `#` lines are skipped, unescaped trailing
    spaces are stripped."""
    if content.startswith(_UTF8_BOM):
        content = content[len(_UTF8_BOM) :]
    rules: list[Rule] = []
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if not raw or raw.startswith(b"#"):
            continue
        line = _strip_trailing_spaces(raw[:-1] if raw.endswith(b"\r") else raw)
        if line:
            rules.append(Rule(origin, number, line))
    return rules


def _strip_trailing_spaces(line: bytes) -> bytes:
    """Drop trailing spaces unless escaped by a backslash (`a\\ ` keeps its space)."""
    stripped = line.rstrip(b" ")
    if stripped == line:
        return line
    backslashes = len(stripped) - len(stripped.rstrip(b"\\"))
    return stripped + b" " if backslashes % 2 else stripped
