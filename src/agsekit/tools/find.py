"""GNU find adapter: a fast fingerprint of a tree's metadata for the no-change check.

find walks and stats a tree at C speed; hashing its listing lets the engine answer
"nothing changed" without building the tree in Python. Other finds (BSD) lack -printf,
so callers fall back to a full walk when this returns None.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from agsekit.tools.runner import stream, which

# type, mode, size, mtime, ctime, inode, path, link target; NUL-separated so any name is safe
_FORMAT = r"%y %m %s %T@ %C@ %i %P\0%l\0"


def gnu_find() -> str | None:
    """find on PATH. Whether it is GNU find shows when it runs: other finds reject
    -printf, which is an error, and the fingerprint is then None (so no probe process
    runs before every check)."""
    return which("find")


def _escape_glob(path: bytes) -> bytes:
    out = bytearray()
    for byte in path:
        if byte in b"*?[]\\":
            out += b"\\"
        out.append(byte)
    return bytes(out)


def tree_fingerprint(root: bytes, prune_dirs: Sequence[bytes]) -> str | None:
    """sha256 of the metadata of everything under root except the folders prune_dirs
    (paths relative to root). None when GNU find is missing or reports any error."""
    find = gnu_find()
    if find is None:
        return None
    root = root.rstrip(b"/") or b"/"
    argv: list[str | bytes] = [find, root]
    if prune_dirs:
        argv.append("(")
        for index, rel in enumerate(prune_dirs):
            if index:
                argv.append("-o")
            argv += ["-path", _escape_glob(root + b"/" + rel)]
        argv += [")", "-type", "d", "-prune", "-o"]
    argv += ["-printf", _FORMAT]
    digest = hashlib.sha256()
    result = stream(argv, digest.update)
    if result.returncode != 0 or result.stderr:
        return None
    return digest.hexdigest()
