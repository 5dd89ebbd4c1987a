"""Manifests: the recorded Tree of each snapshot, kept in DEST/.agsekit/manifests/.

A manifest lets the engine decide "changed or not" and "link or copy" without walking the
previous snapshot, lets `backup-check` verify a snapshot, and records the ignore rules the
snapshot was taken with (a restore decides "ignored" by them). It is plain data
(zlib-compressed JSON): a store must never be able to make the host run code.

A manifest is validated completely when read: every path must be a safe relative path
whose parent folder precedes it, every field must have its type. Anything else means the
manifest is damaged, and it is treated as missing (the snapshot is then read from disk).
"""

from __future__ import annotations

import json
import operator
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agsekit.snapshots.engine.store import write_atomic
from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Meta, Tree
from agsekit.tools import root as fs

FORMAT = 3
MAX_INFLATED = 1 << 31  # a manifest that inflates beyond 2 GiB is not one we wrote


@dataclass(frozen=True)
class Rules:
    """The ignore rules a snapshot was taken with."""

    host: tuple[tuple[str, tuple[str, ...]], ...] = ()
    read_tree: bool = True
    files: Mapping[bytes, bytes] = field(default_factory=dict)  # prefix -> content


@dataclass(frozen=True)
class Manifest:
    tree: Tree
    rules: Rules | None = None  # None: an old manifest that did not record them
    absent: frozenset[bytes] = frozenset()  # paths the snapshot vouches were absent


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def encode(manifest: Manifest) -> bytes:
    """Column by column: each field is one JSON list, which reads and checks in C."""
    paths = list(manifest.tree)
    metas = list(manifest.tree.values())
    doc: dict[str, Any] = {
        "format": FORMAT,
        "paths": [_text(p) for p in paths],
        "kinds": "".join(m.kind for m in metas),
        "modes": [m.mode for m in metas],
        "sizes": [m.size for m in metas],
        "mtimes": [m.mtime_ns for m in metas],
        "ctimes": [m.ctime_ns for m in metas],
        "inos": [m.ino for m in metas],
        "targets": [_text(m.target or b"") for m in metas if m.kind == LINK],
        "digests": [m.digest.hex() if m.digest is not None else None for m in metas],
        "store_inos": [m.store_ino for m in metas],
        "blocks": [m.blocks for m in metas],
    }
    if manifest.rules is not None:
        doc["rules"] = {
            "host": [[label, list(patterns)] for label, patterns in manifest.rules.host],
            "read_tree": manifest.rules.read_tree,
            "files": {_text(k): _text(v) for k, v in sorted(manifest.rules.files.items())},
        }
    if manifest.absent:
        doc["absent"] = sorted(_text(p) for p in manifest.absent)
    data = json.dumps(doc, separators=(",", ":"))
    return zlib.compress(data.encode("ascii"), 1)


def decode(blob: bytes) -> Manifest:
    """ValueError for anything that is not a valid manifest this version can read."""
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(blob, MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise ValueError("manifest too large")
        doc: Any = json.loads(raw)
    except (zlib.error, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not a manifest: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") not in (1, 2, FORMAT):
        raise ValueError("unknown manifest format")
    tree = _columns(doc) if doc["format"] == FORMAT else _rows(doc)
    return Manifest(tree, _rules(doc.get("rules")), _absent(doc.get("absent")))


def _rows(doc: dict[str, Any]) -> Tree:
    """Formats 1 and 2: one list per entry."""
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise ValueError("no entries")
    tree: Tree = {}
    for row in entries:
        path, meta = _row(row, doc["format"])
        _check_place(tree, path, meta)
        tree[path] = meta
    if b"" not in tree:
        raise ValueError("no root entry")
    return tree


# an empty, `.` or `..` component in paths joined by NUL (which no path can hold)
_BAD_COMPONENT = re.compile(r"(?:^|\0|/)\.{0,2}(?=$|\0|/)")
_COLUMNS = ("modes", "sizes", "mtimes", "ctimes", "inos", "store_inos", "blocks")


def _ints(values: Any, n: int, *, signed: bool = False) -> list[int]:
    if type(values) is not list or len(values) != n or not set(map(type, values)) <= {int}:
        raise ValueError("malformed manifest column")
    if n and not signed and min(values) < 0:
        raise ValueError("malformed manifest column")
    return values


def _columns(doc: dict[str, Any]) -> Tree:
    """Format 3: one list per field, checked in bulk (a manifest of 100,000 entries is
    read on every snapshot)."""
    paths, kinds = doc.get("paths"), doc.get("kinds")
    if type(paths) is not list or type(kinds) is not str or len(kinds) != len(paths):
        raise ValueError("malformed manifest")
    n = len(paths)
    if not n or paths[0] != "" or kinds[0] != DIR or not set(kinds) <= {FILE, DIR, LINK}:
        raise ValueError("malformed manifest: no root folder")
    if not set(map(type, paths)) <= {str} or len(set(paths)) != n:
        raise ValueError("malformed manifest paths")
    joined = "\0".join(paths[1:])
    if n > 1 and (joined.count("\0") != n - 2 or _BAD_COMPONENT.search(joined)):
        raise ValueError("not a safe relative path in the manifest")
    columns = {name: _ints(doc.get(name), n, signed=name == "mtimes") for name in _COLUMNS}
    if n and max(columns["modes"]) > 0o7777:
        raise ValueError("malformed manifest modes")
    _check_parents(paths, kinds)
    targets = doc.get("targets")
    if type(targets) is not list or len(targets) != kinds.count(LINK):
        raise ValueError("malformed manifest targets")
    if not set(map(type, targets)) <= {str}:
        raise ValueError("malformed manifest targets")
    digests = doc.get("digests")
    if type(digests) is not list or len(digests) != n:
        raise ValueError("malformed manifest digests")
    link_targets = iter(map(_raw, targets))
    full_targets = [next(link_targets) if k == LINK else None for k in kinds]
    return dict(
        zip(
            map(_raw, paths),
            map(
                Meta,
                kinds,
                columns["modes"],
                columns["sizes"],
                columns["mtimes"],
                columns["ctimes"],
                columns["inos"],
                full_targets,
                map(_digest, digests),
                columns["store_inos"],
                columns["blocks"],
            ),
            strict=True,
        )
    )


def _check_parents(paths: list[str], kinds: str) -> None:
    """Every entry's folder is recorded before it, as a folder."""
    position = dict(zip(paths, range(len(paths)), strict=True))
    missing = len(paths)  # no entry has this position: it stands for a folder not recorded
    parents = [position.get(p.rpartition("/")[0], missing) for p in paths[1:]]
    if not all(map(operator.lt, parents, range(1, len(paths)))):
        raise ValueError("an entry recorded before its folder, or without it")
    if not set(map(kinds.__getitem__, parents)) <= {DIR}:
        raise ValueError("an entry whose folder is not a folder")


def _is_int(value: Any) -> bool:
    return type(value) is int and value >= 0


def _check_path(text: str) -> None:
    """ValueError for a path with `..`, `.`, an empty or an absolute component, or NUL
    (string tests only: this runs once per entry of every manifest read)."""
    if text == "":
        return
    if (
        text[0] == "/"
        or text[-1] == "/"
        or "//" in text
        or "\0" in text
        or text in (".", "..")
        or text.startswith(("./", "../"))
        or text.endswith(("/.", "/.."))
        or "/./" in text
        or "/../" in text
    ):
        raise ValueError(f"not a safe relative path: {text!r}")


def _row(row: Any, version: int) -> tuple[bytes, Meta]:
    width = 11 if version == 2 else None
    if type(row) is not list or (width and len(row) != width) or len(row) < 7:
        raise ValueError("malformed entry")
    path_text, kind, mode, size, mtime, ctime, ino = row[:7]
    if type(path_text) is not str or kind not in (FILE, DIR, LINK):
        raise ValueError("malformed entry")
    if not (_is_int(mode) and _is_int(size) and _is_int(ctime) and _is_int(ino)):
        raise ValueError("malformed entry")
    if mode > 0o7777 or type(mtime) is not int:
        raise ValueError("malformed entry")
    _check_path(path_text)
    path = _raw(path_text)
    target_text = row[7] if len(row) > 7 else None
    if (kind == LINK) != isinstance(target_text, str):
        raise ValueError("malformed symlink entry")
    target = _raw(target_text) if isinstance(target_text, str) else None
    digest, store_ino, blocks = None, 0, 0
    if version == 2:
        digest = _digest(row[8])
        store_ino, blocks = row[9], row[10]
        if not (_is_int(store_ino) and _is_int(blocks)):
            raise ValueError("malformed entry")
    return path, Meta(kind, mode, size, mtime, ctime, ino, target, digest, store_ino, blocks)


def _digest(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is not str or len(value) != 2 * fs.DIGEST_BYTES:
        raise ValueError("malformed digest")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError("malformed digest") from None


def _check_place(tree: Tree, path: bytes, meta: Meta) -> None:
    if path in tree:
        raise ValueError("duplicate entry")
    if path == b"":
        if meta.kind != DIR or tree:
            raise ValueError("the root must come first and be a folder")
        return
    parent = path.rpartition(b"/")[0]
    if parent not in tree or tree[parent].kind != DIR:
        raise ValueError("an entry whose folder is not recorded before it")


def _rules(raw: Any) -> Rules | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("malformed rules")
    host_raw, files_raw = raw.get("host", []), raw.get("files", {})
    read_tree = raw.get("read_tree", True)
    if not isinstance(host_raw, list) or not isinstance(files_raw, dict):
        raise ValueError("malformed rules")
    if not isinstance(read_tree, bool):
        raise ValueError("malformed rules")
    host = []
    for item in host_raw:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not isinstance(item[1], list)
            or not all(isinstance(p, str) for p in item[1])
        ):
            raise ValueError("malformed rules")
        host.append((item[0], tuple(item[1])))
    files = {}
    for prefix, content in files_raw.items():
        if not isinstance(content, str):
            raise ValueError("malformed rules")
        raw_prefix = _raw(prefix)
        if raw_prefix and not raw_prefix.endswith(b"/"):
            raise ValueError("malformed rules")
        fs.components(raw_prefix.rstrip(b"/"))
        files[raw_prefix] = _raw(content)
    return Rules(tuple(host), read_tree, files)


def _absent(raw: Any) -> frozenset[bytes]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ValueError("malformed absent list")
    paths = frozenset(_raw(p) for p in raw)
    for path in paths:
        fs.components(path)
    return paths


def manifest_path(state_dir: Path, name: str) -> Path:
    return state_dir / "manifests" / f"{name}.manifest"


# The manifests this process wrote or read last, by file identity: a loop or the service
# reads, at each snapshot, the manifest it wrote at the previous one. A file that changed
# on disk (another process, an edit) no longer matches and is read and checked again.
_CACHE: dict[str, tuple[tuple[int, int, int, int, int], Manifest]] = {}
_CACHE_SIZE = 2


def _file_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _remember(path: Path, key: tuple[int, int, int, int, int], manifest: Manifest) -> None:
    _CACHE.pop(str(path), None)
    _CACHE[str(path)] = (key, manifest)
    while len(_CACHE) > _CACHE_SIZE:
        del _CACHE[next(iter(_CACHE))]


def _copy(manifest: Manifest) -> Manifest:
    """Callers may change the tree they get (digests filled in): never the cached one."""
    return Manifest(dict(manifest.tree), manifest.rules, manifest.absent)


def save(state_dir: Path, name: str, manifest: Manifest) -> None:
    path = manifest_path(state_dir, name)
    write_atomic(path, encode(manifest))
    try:
        _remember(path, _file_key(os.stat(path)), _copy(manifest))
    except OSError:
        _CACHE.pop(str(path), None)


def load_manifest(state_dir: Path, name: str) -> Manifest | None:
    """The manifest of snapshot `name`, or None when it is missing, unreadable or damaged."""
    path = manifest_path(state_dir, name)
    try:
        fd = fs.open_root(state_dir / "manifests")
    except OSError:
        return None
    try:
        file_fd, st = fs.open_regular(fd, f"{name}.manifest".encode())
        with fs.opened(file_fd):
            cached = _CACHE.get(str(path))
            if cached is not None and cached[0] == _file_key(st):
                return _copy(cached[1])
            blob = fs.read_capped_fd(file_fd, st, 1 << 30)
        found = decode(blob)
        _remember(path, _file_key(st), _copy(found))
        return found
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def load(state_dir: Path, name: str) -> Tree | None:
    found = load_manifest(state_dir, name)
    return found.tree if found is not None else None
