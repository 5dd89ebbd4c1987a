"""What the fault tests share: a seeded source of kill moments, the real CLI run in its own
process group and killed there, and exact descriptions of what a store holds."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agsekit.snapshots.engine.manifest import load_manifest
from agsekit.snapshots.engine.names import is_snapshot_name
from agsekit.snapshots.engine.store import STATE_DIR, TEMP_PREFIX, Store
from agsekit.snapshots.engine.tree import FILE, Tree
from agsekit.snapshots.engine.walk import walk_snapshot
from agsekit.snapshots.history.catalog import snapshot_tree

SEED_VARIABLE = "AGSEKIT_FAULT_SEED"
ROUNDS_VARIABLE = "AGSEKIT_FAULT_ROUNDS"
DURATION_VARIABLE = "AGSEKIT_FAULT_DURATION"  # the measured duration to replay with
DEFAULT_ROUNDS = 20
GONE_WITHIN = 10.0  # seconds a killed process group may take to vanish


# ----- seeds and rounds ---------------------------------------------------------------


@dataclass
class Faults:
    """The kill moments of one test: seeded, printed, replayable with AGSEKIT_FAULT_SEED
    (and AGSEKIT_FAULT_DURATION, the measured duration the failing run printed). The kill
    moments come from their own generator, so what the test chose on the way (data,
    which recovery to try) never shifts them."""

    case: str
    seed: int
    rng: random.Random  # data and choices
    rounds: int
    moments: random.Random = field(default_factory=random.Random)
    measured: float = 0.0
    phases: Counter[str] = field(default_factory=Counter)

    @classmethod
    def start(cls, case: str) -> Faults:
        given = os.environ.get(SEED_VARIABLE, "").strip()
        seed = int(given) if given else random.SystemRandom().randrange(1 << 32)
        rounds = int(os.environ.get(ROUNDS_VARIABLE, "") or DEFAULT_ROUNDS)
        print(f"{case}: seed {seed}, {rounds} rounds (replay: {SEED_VARIABLE}={seed})")
        STRAGGLERS.clear()
        rng, moments = random.Random(f"{seed}:{case}"), random.Random(f"{seed}:{case}:kills")
        return cls(case, seed, rng, rounds, moments)

    def measure(self, seconds: float) -> None:
        """The command's duration, which kill moments are drawn within."""
        given = os.environ.get(DURATION_VARIABLE, "").strip()
        self.measured = float(given) if given else seconds

    def delay(self) -> float:
        return self.moments.uniform(0, self.measured)

    def where(self, index: int, delay: float) -> str:
        """Names the round in a failure message, with what replays it."""
        return (
            f"{self.case}, round {index + 1}/{self.rounds}, killed after {delay:.3f}s of "
            f"{self.measured:.3f}s (replay: {SEED_VARIABLE}={self.seed} "
            f"{DURATION_VARIABLE}={self.measured!r})"
        )

    def note(self, phase: str) -> None:
        self.phases[phase] += 1

    def summary(self) -> str:
        counts = ", ".join(f"{phase}: {count}" for phase, count in sorted(self.phases.items()))
        lingered = f"; {len(STRAGGLERS)} process(es) outlived the group briefly" * bool(STRAGGLERS)
        return (
            f"{self.case}: seed {self.seed}, {self.rounds} rounds within {self.measured:.2f}s; "
            f"kills landed {counts}{lingered}"
        )


# ----- the CLI in its own process group ----------------------------------------------------


def agsekit_argv(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "agsekit", *map(str, args)]


@dataclass(frozen=True)
class Outcome:
    returncode: int  # -9 when the kill landed first
    stdout: str
    stderr: str
    seconds: float

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def timed_run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Outcome:
    """Run argv to its end, in its own process group, and time it."""
    return kill_after(argv, None, env=env)


def kill_after(
    argv: Sequence[str], delay: float | None, env: Mapping[str, str] | None = None
) -> Outcome:
    """Start argv as the leader of a new process group, SIGKILL the whole group after
    `delay` seconds (None: let it finish), and wait until no process of the group is left.
    Output goes to files, so nothing the kill interrupts can block on a pipe."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.monotonic()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        try:
            if delay is None:
                proc.wait(timeout=300)
            else:
                time.sleep(delay)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        seconds = time.monotonic() - began
        wait_until_group_gone(proc.pid)
        out.seek(0)
        err.seek(0)
        return Outcome(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
        )


def _proc_stat(pid: str) -> tuple[str, int] | None:
    """(state, process group) of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def living(pgid: int | None = None, mentioning: str | None = None) -> list[str]:
    """Processes still alive (zombies do not count) in process group pgid, or whose
    command line mentions the given text (a child that left the group, e.g. one started
    in its own session, still names the folders it works on)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        info = _proc_stat(pid)
        if info is None or info[0] in ("Z", "X"):
            continue
        line = _cmdline(pid)
        if (pgid is not None and info[1] == pgid) or (mentioning and mentioning in line):
            found.append(f"{pid} [{info[0]}] {line}")
    return found


def wait_until_group_gone(pgid: int) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while (left := living(pgid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not left, f"processes of the killed group {pgid} are still alive: {left}"


STRAGGLERS: list[str] = []  # processes of a killed run still alive when its group was gone


def assert_no_process_mentions(text: str) -> None:
    """No process anywhere still names `text` (the test's folders) on its command line
    (one that lingers a moment, say a child in its own session that dies of a broken
    pipe, is noted in STRAGGLERS)."""
    STRAGGLERS.extend(living(mentioning=text))
    deadline = time.monotonic() + GONE_WITHIN
    while (left := living(mentioning=text)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not left, f"processes of the run are still alive: {left}"


# ----- what a store holds ------------------------------------------------------------------

Entry = tuple[str, int, int, int, int]  # kind, inode, mode, size, crc32 of content/target


class Describer:
    """Every entry of every complete snapshot: kind, inode, mode, size and a CRC-32 of
    its bytes. Content sums are cached by (device, inode, size, mtime, ctime): any write
    to a file changes its ctime (so does linking it, which only costs a re-read)."""

    def __init__(self) -> None:
        self._sums: dict[tuple[int, int, int, int, int], int] = {}

    def entry(self, path: bytes, st: os.stat_result) -> Entry:
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            return ("l", st.st_ino, mode, st.st_size, zlib.crc32(os.readlink(path)))
        if stat.S_ISDIR(st.st_mode):
            return ("d", st.st_ino, mode, st.st_mtime_ns, 0)
        if not stat.S_ISREG(st.st_mode):
            return ("?", st.st_ino, mode, 0, 0)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key not in self._sums:
            self._sums[key] = file_crc(path)
        return ("f", st.st_ino, mode, st.st_size, self._sums[key])

    def tree(self, root: Path) -> dict[bytes, Entry]:
        out: dict[bytes, Entry] = {}
        folders = [(os.fsencode(root), b"")]
        while folders:
            folder, rel = folders.pop()
            with os.scandir(folder) as entries:
                for item in entries:
                    path = rel + b"/" + item.name if rel else item.name
                    st = item.stat(follow_symlinks=False)
                    out[path] = self.entry(item.path, st)
                    if stat.S_ISDIR(st.st_mode):
                        folders.append((item.path, path))
        return out

    def snapshots(self, dest: Path) -> dict[str, dict[bytes, Entry]]:
        return {name: self.tree(dest / name) for name in Store(dest).snapshot_names()}

    def content(self, root: Path) -> dict[bytes, tuple[str, int, int, int]]:
        """The tree without inodes (and without folder times): what a copy must match."""
        return {
            path: (kind, mode, 0 if kind == "d" else size, crc)
            for path, (kind, _ino, mode, size, crc) in self.tree(root).items()
        }


def file_crc(path: bytes | str) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def changed_snapshots(
    before: Mapping[str, Mapping[bytes, Entry]],
    after: Mapping[str, Mapping[bytes, Entry]],
    *,
    may_vanish: bool = False,
) -> list[str]:
    """Snapshots of `before` that are missing from `after` or differ in any entry."""
    problems = []
    for name, entries in before.items():
        now = after.get(name)
        if now is None:
            if not may_vanish:
                problems.append(f"{name} is gone")
            continue
        if now != entries:
            differ = sorted(set(now.items()) ^ set(entries.items()))[:5]
            problems.append(f"{name} changed: {differ}")
    return problems


def leftovers(dest: Path) -> list[str]:
    """What an interrupted run may leave and the next command must clear: `-partial`
    folders, temporary files of the state folder, anything in the trash, and manifest
    files of no snapshot."""
    state = dest / STATE_DIR
    found = [n for n in os.listdir(dest) if n.endswith("-partial")]
    for folder in (state, state / "manifests"):
        found += [str(folder / n) for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)]
    found += [f"trash/{n}" for n in os.listdir(state / "trash")]
    names = set(os.listdir(dest))
    for entry in os.listdir(state / "manifests"):
        stem, _, suffix = entry.rpartition(".")
        if suffix in ("manifest", "json") and is_snapshot_name(stem) and stem not in names:
            found.append(f"manifests/{entry} (of no snapshot)")
    return found


def incomplete_snapshots(dest: Path) -> list[str]:
    """Folders named like a snapshot whose tree is not exactly their manifest's: a half
    removed or half written snapshot that looks like a real one."""
    store = Store(dest)
    problems = []
    for name in sorted(os.listdir(dest)):
        if not is_snapshot_name(name):
            continue
        if load_manifest(store.state, name) is None:
            problems.append(f"{name} has no manifest")
            continue
        recorded = _comparable(snapshot_tree(store, name))
        on_disk = _comparable(walk_snapshot(os.fsencode(dest / name)))
        if recorded != on_disk:
            differ = sorted(set(recorded.items()) ^ set(on_disk.items()))[:5]
            problems.append(f"{name} does not match its manifest: {differ}")
    return problems


def _comparable(tree: Tree) -> dict[bytes, tuple[object, ...]]:
    """What a snapshot's manifest and the snapshot on disk must agree on."""
    return {
        path: (
            meta.kind,
            meta.mode,
            meta.size if meta.kind == FILE else 0,
            meta.mtime_ns,
            meta.target,
            meta.store_ino if meta.kind == FILE else 0,
        )
        for path, meta in tree.items()
    }
