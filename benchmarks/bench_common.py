"""What the benchmark scripts share: the synthetic project, timing, and the machine line.

Not a benchmark itself; snapshot_bench.py and restore_bench.py import it (the scripts'
folder is the first entry of sys.path when they run).
"""

from __future__ import annotations

import os
import platform
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def build_project(root: Path, files: int, dirs: int, rng: random.Random) -> list[Path]:
    """`files` files of 0-4 KiB of random bytes, spread evenly over `dirs` folders
    (pkgNNN/modNNNNN/fileNNNN.txt, 100 folders per package)."""
    paths = []
    per_dir = max(1, files // dirs)
    for d in range(dirs):
        folder = root / f"pkg{d // 100:03d}" / f"mod{d:05d}"
        folder.mkdir(parents=True)
        for f in range(per_dir):
            path = folder / f"file{f:04d}.txt"
            path.write_bytes(rng.randbytes(rng.randint(0, 4096)))
            paths.append(path)
    return paths


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def du_bytes(first: Path, second: Path) -> int:
    """Disk used by `second` when `first` is counted before it (shared hard links once)."""
    out = subprocess.run(
        ["du", "-s", "-B1", str(first), str(second)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return int(out[1].split()[0])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rsync = subprocess.run(
        ["rsync", "--version"], capture_output=True, text=True, check=False
    ).stdout
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{rsync.splitlines()[0] if rsync else 'rsync ?'}"
    )


def load() -> str:
    """The load average and the CPU pressure: other work on the machine skews timings."""
    parts = []
    try:
        parts.append("loadavg " + " ".join(Path("/proc/loadavg").read_text().split()[:3]))
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        parts.append("CPU pressure " + " ".join(f for f in some[1:3]))
    except (OSError, IndexError):
        pass
    return ", ".join(parts) or "unknown"
