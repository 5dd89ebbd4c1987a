"""A small file system for the full-disk tests: a tmpfs of a chosen size and inode count,
mounted in a private mount namespace that one holder process keeps alive. Commands run
inside that namespace (nsenter); the test reads and fills the file system through
/proc/HOLDER/root, which resolves paths in the holder's namespace. Nothing is mounted
where the rest of the machine can see it, and the mount vanishes with the holder."""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


class SmallFs:
    def __init__(self, holder: subprocess.Popen[str], mountpoint: Path, user_ns: bool) -> None:
        self.holder = holder
        self.path = mountpoint  # where commands run with run() see it
        self.user_ns = user_ns

    @property
    def seen(self) -> Path:
        """The same folder as this process sees it (plain os calls only: realpath and
        agsekit's own no-symlink opens would leave the namespace)."""
        return Path(f"/proc/{self.holder.pid}/root{self.path}")

    def argv(self, argv: Sequence[str]) -> list[str]:
        enter = ["nsenter", f"--target={self.holder.pid}", "--mount"]
        if self.user_ns:
            enter += ["--user", "--preserve-credentials"]
        return [*enter, "--", *argv]

    def run(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(argv),
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )

    def free(self) -> tuple[int, int]:
        """Free bytes and free inodes."""
        st = os.statvfs(self.seen)
        return st.f_bavail * st.f_frsize, st.f_favail

    def fill_space(self, name: str = "filler") -> Path:
        """A file that takes every free block."""
        path = self.seen / name
        block = os.urandom(1 << 16)
        with open(path, "ab", buffering=0) as fh:
            try:
                while True:
                    fh.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
            try:
                while True:
                    fh.write(b"x" * 512)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        return path

    def fill_inodes(self, name: str = "inodes", keep: int = 0) -> Path:
        """Empty files in a folder of their own until only `keep` inodes are free."""
        folder = self.seen / name
        folder.mkdir()
        index = 0
        while self.free()[1] > keep:
            try:
                (folder / str(index)).touch()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
            index += 1
        return folder


def _skip(why: str) -> None:
    pytest.skip(f"needs a tmpfs in a private mount namespace, which cannot be made here: {why}")


@contextmanager
def small_fs(mountpoint: Path, *, size: str, inodes: int) -> Iterator[SmallFs]:
    """Mount a tmpfs of `size` (tmpfs syntax, e.g. 8m) with `inodes` inodes at mountpoint,
    in a new private mount namespace (as root; else in a new user namespace too)."""
    for tool in ("unshare", "nsenter"):
        if shutil.which(tool) is None:
            _skip(f"{tool} (util-linux) is not installed")
    mountpoint.mkdir(parents=True, exist_ok=True)
    options = f"size={size},nr_inodes={inodes},mode=0755"
    script = (
        f"mount -t tmpfs -o {options} agsekit-test {shlex.quote(str(mountpoint))} "
        "&& echo mounted && exec cat"
    )
    tried = []
    for user_ns in [False, True] if os.geteuid() == 0 else [True]:
        extra = ["--user", "--map-root-user"] if user_ns else []
        holder = subprocess.Popen(
            ["unshare", *extra, "--mount", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdin is not None
        if holder.stdout.readline().strip() == "mounted":
            fs = SmallFs(holder, mountpoint, user_ns)
            if not os.path.ismount(mountpoint) and os.path.isdir(fs.seen):
                break
            tried.append("the mount is visible outside its namespace")
        else:
            tried.append(holder.communicate(timeout=30)[1].strip() or "unshare failed")
        holder.kill()
        holder.wait()
    else:
        _skip("; ".join(tried))
    try:
        yield fs
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
