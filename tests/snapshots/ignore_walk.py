"""A minimal walker on IgnoreRules for the tests: which files a snapshot would hold."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from agsekit.snapshots.ignore.patterns import Rule
from agsekit.snapshots.ignore.rules import IgnoreRules


@dataclass
class Walked:
    kept: set[bytes] = field(default_factory=set)  # files, relative to the root
    # every entry the walker asked about: path -> the rule that decided (None: no rule)
    decisions: dict[bytes, Rule | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    dirs: set[bytes] = field(default_factory=set)  # directories asked about


def read_ignore_file(directory: bytes, ignore_name: bytes) -> bytes | None:
    try:
        with open(os.path.join(directory, ignore_name), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def walk(
    root: bytes,
    excludes: Sequence[str] = (),
    ignore_name: bytes = b".backupignore",
    host_patterns: Sequence[tuple[str, Sequence[str]]] = (),
) -> Walked:
    """Walk as the snapshot walker does, never descending into excluded directories; the
    origin of each ignore file is its path from the root."""
    out = Walked()
    rules = IgnoreRules.root(
        excludes,
        read_ignore_file(root, ignore_name),
        host_patterns=host_patterns,
        origin=os.fsdecode(ignore_name),
        problems=out.problems,
    )
    _walk(root, b"", rules, ignore_name, out)
    return out


def kept_files(
    root: bytes, excludes: Sequence[str] = (), ignore_name: bytes = b".backupignore"
) -> set[bytes]:
    """Paths (relative to root) of the files kept, never descending into excluded dirs."""
    return walk(root, excludes, ignore_name).kept


def _walk(
    directory: bytes, relative: bytes, rules: IgnoreRules, ignore_name: bytes, out: Walked
) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name == b".git":
                continue
            path = relative + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if _excluded(rules, entry.name, is_dir, path, out):
                continue
            if is_dir:
                content = read_ignore_file(entry.path, ignore_name)
                origin = os.fsdecode(path + b"/" + ignore_name)
                below = rules.child(entry.name, content, origin, out.problems)
                _walk(entry.path, path + b"/", below, ignore_name, out)
            else:
                out.kept.add(path)


def _excluded(rules: IgnoreRules, name: bytes, is_dir: bool, path: bytes, out: Walked) -> bool:
    """rules.excluded(), noting the deciding rule and checking that explain() agrees."""
    excluded = rules.excluded(name, is_dir)
    rule = rules.deciding_rule(name, is_dir)
    explanation = rules.explain(name, is_dir)
    assert (explanation is not None) == excluded, (path, rule)
    assert explanation is None or explanation == rule
    out.decisions[path] = rule
    if is_dir:
        out.dirs.add(path)
    return excluded


def make_tree(root: bytes, files: Sequence[bytes], ignore_files: dict[bytes, bytes]) -> None:
    """Create `files` (paths with `/`; a trailing `/` makes an empty directory) and the
    ignore files, given as {path of the ignore file: content}."""
    for path in files:
        full = os.path.join(root, path)
        if path.endswith(b"/"):
            os.makedirs(full, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as handle:
            handle.write(b"x")
    for path, content in ignore_files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as handle:
            handle.write(content)
