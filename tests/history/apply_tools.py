"""Trees on disk, and patches applied to them with GNU patch and git apply, as a user would.

A tree is {relative path: Item}; folders are left out (neither tool can create an empty
one, both make the folders a file needs). The tools run with umask 022, so files they
create get 0644 or 0755: trees under test use only those modes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import NamedTuple

from agsekit.snapshots.engine.tree import FILE, LINK


class Item(NamedTuple):
    kind: str  # FILE or LINK
    mode: int  # permission bits of a file, 0 for a link
    data: bytes  # content or link target


Files = dict[bytes, Item]


def build(root: Path, files: Files) -> Path:
    base = os.fsencode(root)
    os.makedirs(base, exist_ok=True)
    for path, item in files.items():
        full = base + b"/" + path
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if item.kind == LINK:
            os.symlink(item.data, full)
            continue
        with open(full, "wb") as fh:
            fh.write(item.data)
        os.chmod(full, item.mode)
    return root


def read_back(root: Path) -> Files:
    """Every file and link under root, .git/ left out."""
    base = os.fsencode(root)
    out: Files = {}
    for folder, dirs, names in os.walk(base):
        if folder == base and b".git" in dirs:
            dirs.remove(b".git")
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            full = os.path.join(folder, name)
            out[os.path.relpath(full, base)] = _item(full)
    return out


def _item(full: bytes) -> Item:
    st = os.lstat(full)
    if stat.S_ISLNK(st.st_mode):
        return Item(LINK, 0, os.readlink(full))
    with open(full, "rb") as fh:
        return Item(FILE, stat.S_IMODE(st.st_mode), fh.read())


def _env(home: Path) -> dict[str, str]:
    """No user or system configuration: ~/.gitconfig must not change what git apply does."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        args, cwd=cwd, env=_env(cwd.parent), capture_output=True, umask=0o022, check=False
    )


def _copy(original: Path, work: Path, patch: bytes) -> Path:
    shutil.copytree(original, work, symlinks=True)
    patch_file = work.parent / (work.name + ".patch")
    patch_file.write_bytes(patch)
    return patch_file


def _report(proc: subprocess.CompletedProcess[bytes], patch: bytes) -> str:
    shown = patch if len(patch) < 6000 else patch[:6000] + b"\n[...]"
    return f"{proc.args}: exit {proc.returncode}\n{proc.stdout!r}\n{proc.stderr!r}\n{shown!r}"


def gnu_patch(original: Path, work: Path, patch: bytes) -> subprocess.CompletedProcess[bytes]:
    """`patch -p1` on a copy of original. -f: no questions, never guess a reversed patch;
    --fuzz=0: every context line must match."""
    patch_file = _copy(original, work, patch)
    return _run(["patch", "-p1", "-f", "--fuzz=0", "-i", str(patch_file)], work)


def git_apply(original: Path, work: Path, patch: bytes) -> subprocess.CompletedProcess[bytes]:
    """`git apply` in a fresh repository made of a copy of original (work tree only)."""
    patch_file = _copy(original, work, patch)
    init = _run(["git", "init", "-q"], work)
    assert init.returncode == 0, init.stderr
    return _run(["git", "apply", "--whitespace=nowarn", str(patch_file)], work)


def assert_applies(original: Path, work: Path, patch: bytes, expected: Files) -> None:
    """Apply patch with both tools, each to its own copy of original: both must succeed
    cleanly (exit 0, no offset or fuzz, no .rej or .orig) and give expected exactly."""
    copy = work.with_name(work.name + "-patch")
    by_patch = gnu_patch(original, copy, patch)
    assert by_patch.returncode == 0, _report(by_patch, patch)
    assert b"(offset" not in by_patch.stdout and b"fuzz" not in by_patch.stdout
    _assert_same(read_back(copy), expected, _report(by_patch, patch))
    copy = work.with_name(work.name + "-git")
    by_git = git_apply(original, copy, patch)
    assert by_git.returncode == 0, _report(by_git, patch)
    _assert_same(read_back(copy), expected, _report(by_git, patch))


def _assert_same(got: Files, expected: Files, report: str) -> None:
    wrong = sorted(p for p in got.keys() | expected.keys() if got.get(p) != expected.get(p))
    shown = [(p, repr(got.get(p))[:300], repr(expected.get(p))[:300]) for p in wrong[:5]]
    assert not wrong, f"differs at {shown!r}\n{report}"
