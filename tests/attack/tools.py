"""What the attack tests share: a fake host around the project (a home with an SSH key, a
folder that must receive nothing), a watch that sees any access to it, racing processes
that swap entries of the project, and the CLI run with an isolated config."""

from __future__ import annotations

import ctypes
import hashlib
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import run_cli

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- host-secret-6f1c2a -----END-----\n"
RACER = Path(__file__).with_name("racer.py")
State = dict[bytes, tuple[int, int, int, int, str]]


def cli_env(tmp_path: Path) -> dict[str, str]:
    """An isolated config location, HOME in the fake host, and a notify-send that records
    its arguments in tmp_path/notified."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{tmp_path}/notified"\n')
    fake.chmod(0o755)
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CONFIG_PATH": "",
        "HOME": str(tmp_path / "host" / "home"),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }


def agsekit(
    *args: str | os.PathLike[str],
    env: dict[str, str],
    timeout: float = 120,
    as_owner: bool = False,
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, timeout=timeout, as_owner=as_owner)


# ----- the host outside the project ---------------------------------------------------------


@dataclass
class Host:
    """Files outside the project and the store that no command may read, write or remove:
    home/.ssh/id_ed25519 (the secret), home/.bashrc, and inbox/, a folder with files named
    like the project's, that must receive nothing."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def key(self) -> Path:
        return self.home / ".ssh" / "id_ed25519"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    def build(self, names: list[str]) -> Host:
        (self.home / ".ssh").mkdir(parents=True)
        self.key.write_bytes(SECRET)
        self.key.chmod(0o600)
        (self.home / ".bashrc").write_text("# the host user's shell\n")
        self.inbox.mkdir()
        for name in names:
            (self.inbox / name).write_bytes(SECRET)
        (self.inbox / "id_ed25519").write_bytes(SECRET)
        os.utime(self.root, ns=(1_600_000_000_000_000_000,) * 2)
        return self

    def state(self) -> State:
        """Every entry: (mode, inode, size, mtime_ns, sha256 of content)."""
        out: State = {}
        base = os.fsencode(self.root)
        for folder, dirs, files in os.walk(base):
            for name in [b".", *dirs, *files]:
                path = os.path.join(folder, name)
                st = os.lstat(path)
                digest = ""
                if stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as fh:
                        digest = hashlib.sha256(fh.read()).hexdigest()
                rel = os.path.normpath(os.path.relpath(path, base))
                out[rel] = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, digest)
        return out


def holding_secret(*roots: Path | bytes) -> list[bytes]:
    """Regular files below roots whose content holds the host's secret (never following a
    symlink)."""
    found = []
    for root in roots:
        for folder, _dirs, files in os.walk(os.fsencode(root)):
            for name in files:
                path = os.path.join(folder, name)
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                with open(path, "rb") as fh:
                    if SECRET.strip() in fh.read():
                        found.append(path)
    return found


# ----- a watch on the host -------------------------------------------------------------------

_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_IN_ALL_EVENTS = 0xFFF  # access, modify, attrib, close, open, move, create, delete, self
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
EVENT_NAMES = {
    0x1: "access",
    0x2: "modify",
    0x4: "attrib",
    0x8: "close-write",
    0x10: "close",
    0x20: "open",
    0x40: "moved-from",
    0x80: "moved-to",
    0x100: "create",
    0x200: "delete",
    0x400: "delete-self",
    0x800: "move-self",
    _IN_Q_OVERFLOW: "overflow",
}


@dataclass
class Watch:
    """inotify on every folder of the host: any open, read, write, change or removal of
    them or of an entry in them is an event (stat and readlink are not)."""

    fd: int
    folders: dict[int, bytes] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    def drain(self) -> list[str]:
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return self.seen
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = (
                    int.from_bytes(data[offset + i : offset + i + 4], sys.byteorder)
                    for i in (0, 4, 8, 12)
                )
                name = data[offset + 16 : offset + 16 + length].rstrip(b"\0")
                offset += 16 + length
                if mask & _IN_IGNORED:
                    continue
                kinds = [n for bit, n in EVENT_NAMES.items() if mask & bit]
                where = os.path.join(self.folders.get(wd, b"?"), name)
                self.seen.append(f"{'+'.join(kinds)} {os.fsdecode(where)}")


@contextmanager
def watching(host: Host) -> Iterator[Watch]:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    watch = Watch(fd)
    try:
        folders = [folder for folder, _dirs, _files in os.walk(os.fsencode(host.root))]
        for folder in folders:  # listed first: listing a watched folder is an event
            wd = libc.inotify_add_watch(fd, folder, _IN_ALL_EVENTS)
            assert wd >= 0, os.strerror(ctypes.get_errno())
            watch.folders[wd] = folder
        yield watch
        watch.drain()
    finally:
        os.close(fd)


# ----- racing processes ----------------------------------------------------------------------


@dataclass
class Race:
    attempts: int = 0
    swaps: int = 0
    counter: Path | None = None  # where a shell racer writes its count as it goes

    def so_far(self) -> int:
        """Attempts made until now (shell racers; others count only at the end)."""
        if self.counter is None:
            return self.attempts
        try:
            return int(self.counter.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0


@contextmanager
def racing(
    *pairs: tuple[Path, Path], attempts: int = 20_000_000, seconds: float = 30
) -> Iterator[Race]:
    """A process that exchanges the two entries of each pair (renameat2 RENAME_EXCHANGE)
    in a tight loop while the body runs; afterwards every name is back as it was."""
    race = Race()
    names = [str(path) for pair in pairs for path in pair]
    proc = subprocess.Popen(
        [sys.executable, str(RACER), str(attempts), str(seconds), *names],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    try:
        yield race
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        race.attempts, race.swaps = (int(n) for n in out.split())


@contextmanager
def mv_racing(first: Path, second: Path, *, attempts: int = 100_000) -> Iterator[Race]:
    """The same with plain `mv` in a shell loop (three renames a swap, through a third
    name). Afterwards first and second are put back as they were, as far as the command
    that ran meanwhile left them there."""
    stop = first.parent / ".stop-racing"
    parked = first.parent / ".parked"
    counter = first.parent.parent / f".racer-count-{os.getpid()}"
    race = Race(counter=counter)
    kinds = _kind(first), _kind(second)
    script = (
        'n=0; while [ "$n" -lt "$4" ] && [ ! -e "$3" ]; do n=$((n+1)); '
        'mv -T -- "$1" "$5" 2>/dev/null && mv -T -- "$2" "$1" 2>/dev/null && '
        'mv -T -- "$5" "$2" 2>/dev/null; echo "$n" > "$6"; done; echo "$n"'
    )
    proc = subprocess.Popen(
        ["bash", "-c", script, "racer", first, second, stop, str(attempts), parked, counter],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.05)
        yield race
    finally:
        stop.touch()
        out, _ = proc.communicate(timeout=30)
        stop.unlink()
        race.attempts = race.swaps = int(out.strip() or 0)
        for name in (first, second):
            if os.path.lexists(parked) and not os.path.lexists(name):
                os.rename(parked, name)
        if (_kind(second), _kind(first)) == kinds != kinds[::-1]:
            for src, dst in ((first, parked), (second, first), (parked, second)):
                os.rename(src, dst)


def _kind(path: Path) -> int | None:
    try:
        return stat.S_IFMT(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None
