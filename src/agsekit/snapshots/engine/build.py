"""Write a new snapshot directory from a walked source tree.

Unchanged files are hard-linked from the previous snapshot; changed and new files are
copied by rsync. Nothing in the previous snapshot is ever opened for writing or chmod-ed:
its files are shared with every older snapshot.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agsekit.core.errors import SnapshotError
from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Tree, same_content
from agsekit.tools import rsync

_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}


@dataclass
class BuildResult:
    linked: int = 0
    copied: int = 0
    copied_bytes: int = 0
    copy_returncode: int = 0
    copy_stderr: str = ""
    missing: list[bytes] = field(default_factory=list)  # vanished before rsync could copy
    unreadable: list[bytes] = field(default_factory=list)  # still there, but not copied
    hardlinks_unsupported: bool = False


def build_snapshot(
    *,
    source: bytes,
    partial: bytes,
    tree: Tree,
    previous: tuple[bytes, Tree] | None,
    scratch_dir: bytes,
    on_progress: Callable[[int, int, int, int], None] | None = None,
) -> BuildResult:
    """Fill the empty directory `partial` with `tree`. Entries that vanished before they
    could be copied are removed from `tree` so that it stays the manifest of the result."""
    result = BuildResult()
    to_copy = _lay_out(partial, tree, previous, result)
    if to_copy:
        _copy(
            source,
            partial,
            tree,
            to_copy,
            scratch_dir=scratch_dir,
            result=result,
            on_progress=on_progress,
        )
    _apply_directory_attributes(partial, tree)
    return result


def _lay_out(
    partial: bytes, tree: Tree, previous: tuple[bytes, Tree] | None, result: BuildResult
) -> list[bytes]:
    """Create folders and symlinks, hard-link unchanged files; return the files to copy."""
    prev_root, prev_tree = previous if previous is not None else (b"", {})
    can_link = previous is not None
    to_copy: list[bytes] = []
    for path, meta in tree.items():
        target = partial + b"/" + path
        if meta.kind == DIR:
            if path:  # the root is the partial folder itself
                os.mkdir(target, 0o700)
        elif meta.kind == LINK:
            os.symlink(meta.target or b"", target)
            os.utime(target, ns=(meta.mtime_ns, meta.mtime_ns), follow_symlinks=False)
        elif meta.kind == FILE:
            before = prev_tree.get(path)
            if can_link and before is not None and same_content(before, meta):
                try:
                    os.link(prev_root + b"/" + path, target, follow_symlinks=False)
                    result.linked += 1
                    continue
                except OSError as exc:
                    if exc.errno in _NO_LINKS:
                        can_link = False
                        result.hardlinks_unsupported = True
                    elif exc.errno not in (errno.EMLINK, errno.ENOENT):
                        raise
            to_copy.append(path)
    return to_copy


def _copy(
    source: bytes,
    partial: bytes,
    tree: Tree,
    to_copy: list[bytes],
    *,
    scratch_dir: bytes,
    result: BuildResult,
    on_progress: Callable[[int, int, int, int], None] | None,
) -> None:
    total_bytes = sum(tree[p].size for p in to_copy)
    total_files = len(to_copy)
    progress = None
    if on_progress is not None:
        callback = on_progress

        def progress(done_bytes: int, done_files: int) -> None:
            callback(done_files, total_files, done_bytes, total_bytes)

    with tempfile.NamedTemporaryFile(dir=scratch_dir, prefix=b".copy-list-") as listing:
        listing.write(b"\0".join(to_copy) + b"\0")
        listing.flush()
        outcome = rsync.copy_listed(source, partial, Path(os.fsdecode(listing.name)), progress)
    result.copy_returncode = outcome.returncode
    result.copy_stderr = outcome.stderr
    if not outcome.ok and outcome.returncode != rsync.PARTIAL:
        raise SnapshotError(rsync.describe_failure(outcome))
    for path in to_copy:
        if os.path.lexists(partial + b"/" + path):
            result.copied += 1
            result.copied_bytes += tree[path].size
        else:
            gone = not os.path.lexists(source + b"/" + path)
            (result.missing if gone else result.unreadable).append(path)
            del tree[path]


def _apply_directory_attributes(partial: bytes, tree: Tree) -> None:
    """Modes and times of folders, deepest first, once nothing more is written inside."""
    for path in reversed(tree):
        meta = tree[path]
        if meta.kind == DIR:
            target = partial + b"/" + path if path else partial
            os.chmod(target, meta.mode)
            os.utime(target, ns=(meta.mtime_ns, meta.mtime_ns))
