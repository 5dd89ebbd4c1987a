"""A minimal walker on IgnoreRules for the tests: which files a snapshot would hold."""

from __future__ import annotations

import os
from collections.abc import Sequence

from agsekit.snapshots.ignore.rules import IgnoreRules


def read_ignore_file(directory: bytes, ignore_name: bytes) -> bytes | None:
    try:
        with open(os.path.join(directory, ignore_name), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def kept_files(
    root: bytes, excludes: Sequence[str] = (), ignore_name: bytes = b".backupignore"
) -> set[bytes]:
    """Paths (relative to root) of the files kept, never descending into excluded dirs."""
    kept: set[bytes] = set()
    rules = IgnoreRules.root(excludes, read_ignore_file(root, ignore_name))
    _walk(root, b"", rules, ignore_name, kept)
    return kept


def _walk(
    directory: bytes, relative: bytes, rules: IgnoreRules, ignore_name: bytes, kept: set[bytes]
) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name == b".git":
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if rules.excluded(entry.name, is_dir):
                continue
            if is_dir:
                below = rules.child(entry.name, read_ignore_file(entry.path, ignore_name))
                _walk(entry.path, relative + entry.name + b"/", below, ignore_name, kept)
            else:
                kept.add(relative + entry.name)


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
