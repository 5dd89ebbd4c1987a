"""Ignore rules: .backupignore files and host-side excludes with gitignore semantics.

The API a walker needs: IgnoreRules (root(), child(), excluded(), explain()), the Rule an
explanation names, and parse_ignore_file() with the caps on an agent-written file.
"""

from agsekit.snapshots.ignore.files import (
    MAX_FILE_BYTES,
    MAX_FILES_IN_FORCE,
    MAX_LINE_BYTES,
    MAX_LINES_IN_FORCE,
    MAX_LINES_PER_WALK,
    MAX_PATTERN_LINES,
    ParsedIgnoreFile,
    parse_ignore_file,
)
from agsekit.snapshots.ignore.patterns import Rule, printable
from agsekit.snapshots.ignore.rules import EXCLUDE_ORIGIN, IGNORE_FILE, IgnoreRules

__all__ = [
    "EXCLUDE_ORIGIN",
    "IGNORE_FILE",
    "MAX_FILES_IN_FORCE",
    "MAX_FILE_BYTES",
    "MAX_LINES_IN_FORCE",
    "MAX_LINES_PER_WALK",
    "MAX_LINE_BYTES",
    "MAX_PATTERN_LINES",
    "IgnoreRules",
    "ParsedIgnoreFile",
    "Rule",
    "parse_ignore_file",
    "printable",
]
