"""The one answer to "does path A lie inside folder B", for every check that needs it.

Both sides are compared as given: callers resolve symlinks first (os.path.realpath) when
the question is about the real place on disk, and say so.
"""

from __future__ import annotations

import os
from pathlib import PurePath

PathLike = str | PurePath


def _text(path: PathLike) -> str:
    return os.path.normpath(os.fspath(path))


def relative_inside(path: PathLike, folder: PathLike) -> str | None:
    """path relative to folder ("" for the folder itself), or None when it lies outside."""
    inner, outer = _text(path), _text(folder)
    if inner == outer:
        return ""
    prefix = outer.rstrip("/") + "/"
    return inner[len(prefix) :] if inner.startswith(prefix) else None


def is_inside(path: PathLike, folder: PathLike) -> bool:
    """path lies strictly below folder."""
    rel = relative_inside(path, folder)
    return bool(rel)


def is_within(path: PathLike, folder: PathLike) -> bool:
    """path is folder or lies below it."""
    return relative_inside(path, folder) is not None


def really_within(path: PathLike, folder: PathLike) -> bool:
    """is_within, with symlinks resolved on both sides."""
    return is_within(os.path.realpath(path), os.path.realpath(folder))


def bytes_relative_inside(path: bytes, folder: bytes) -> bytes | None:
    """The same as relative_inside, for bytes paths that are already normalised."""
    if path == folder:
        return b""
    prefix = folder.rstrip(b"/") + b"/"
    return path[len(prefix) :] if path.startswith(prefix) else None
