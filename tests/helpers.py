"""Helpers shared by the tests: run the CLI for real, describe trees on disk."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def without_root_powers() -> list[str]:
    """A command prefix that makes root obey file permissions like the files' owner does
    (no CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH), so that tests of unreadable or
    unwritable folders mean the same when the suite runs as root (CI) or as a user."""
    if os.geteuid() != 0:
        return []
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]


def run_cli(
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    as_owner: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `agsekit ARGS` in a fresh interpreter, as a user would (as_owner: with no
    power to bypass file permissions, see without_root_powers)."""
    full_env = {**os.environ, **(env or {})}
    prefix = without_root_powers() if as_owner else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "agsekit", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def run_cli_bytes(
    *args: str | os.PathLike[str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """run_cli, with stdout and stderr kept as bytes (for output that is not text)."""
    return subprocess.run(
        [sys.executable, "-m", "agsekit", *map(str, args)],
        capture_output=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def describe_tree(root: Path | bytes) -> dict[bytes, tuple[str, int, str]]:
    """Every entry under root: (kind, permission bits, sha256 of content or link target)."""
    base = os.fsencode(root)
    out: dict[bytes, tuple[str, int, str]] = {}
    for folder, dirs, files in os.walk(base):
        rel_folder = os.path.relpath(folder, base)
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.normpath(os.path.join(rel_folder, name))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(path).hex())
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), "")
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(Path(os.fsdecode(path)).read_bytes()).hexdigest()
                out[rel] = ("file", stat.S_IMODE(st.st_mode), digest)
            else:
                out[rel] = ("special", 0, "")
    return out


def snapshots_in(dest: Path) -> list[str]:
    return sorted(
        p.name for p in dest.iterdir() if p.is_dir() and len(p.name) == 16 and p.name[8] == "T"
    )


def write(path: Path, text: str | bytes = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def start_cli(
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    new_session: bool = False,
    capture: bool = True,
    cwd: Path | None = None,
) -> subprocess.Popen[str]:
    """Start `agsekit ARGS` in the background (text pipes unless capture=False)."""
    pipe = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "agsekit", *map(str, args)],
        stdout=pipe,
        stderr=pipe,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=new_session,
        cwd=cwd,
    )


def manifest_as_rows(path: Path) -> dict[str, object]:
    """A snapshot's manifest as the row-per-entry document of format 2 (which agsekit
    still reads and checks), for tests that damage single entries."""
    import json
    import zlib

    doc = json.loads(zlib.decompress(path.read_bytes()))
    links = iter(doc["targets"])
    rows = [
        [p, k, mode, size, mtime, ctime, ino, next(links) if k == "l" else None, digest, *rest]
        for p, k, mode, size, mtime, ctime, ino, digest, *rest in zip(
            doc["paths"], doc["kinds"], doc["modes"], doc["sizes"], doc["mtimes"],
            doc["ctimes"], doc["inos"], doc["digests"], doc["store_inos"], doc["blocks"],
            strict=True,
        )
    ]  # fmt: skip
    return {"format": 2, "entries": rows, **{k: doc[k] for k in ("rules", "absent") if k in doc}}


def write_manifest_rows(path: Path, doc: dict[str, object]) -> None:
    import json
    import zlib

    path.write_bytes(zlib.compress(json.dumps(doc).encode()))
