#!/usr/bin/env python3
"""Snapshot engine benchmark: agsekit against the floor (find) and plain rsync.

Builds a synthetic project in a temporary folder and prints, measured in the same run:
  1. the no-change check: agsekit vs a bare metadata walk (find -printf, the floor) and vs
     `rsync -a --dry-run --delete SRC/ LATEST/` (what a plain rsync tool does);
  2. a snapshot after 100 changed files: agsekit vs `rsync -a --delete --link-dest=LATEST`;
  3. the disk used by one such snapshot (hard links counted once) vs the plain rsync one.
Targets: (1) at most 1.5x the floor and faster than the rsync dry-run; (2) no slower than
plain rsync; (3) no larger.

Usage: ./.venv/bin/python benchmarks/snapshot_bench.py [--files 100000] [--dirs 1000]
       [--repeat 5] [--keep DIR]      (--files 1000000 for the large variant)
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine.snapshot import SnapshotRequest, take_snapshot
from bench_common import build_project, du_bytes, load, machine, sh, timed


def best_of(repeat: int, action: Callable[[], object]) -> float:
    action()  # warm the cache and any state
    return statistics.median(timed(action) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=1_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="work in this folder instead of a temp one")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="agsekit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    src, dest, plain = work / "src", work / "dest", work / "plain"
    plain.mkdir()
    rng = random.Random(42)
    print(f"machine: {machine()}")
    print(f"load at the start: {load()}")
    print(f"building {args.files} files in {args.dirs} folders under {work} ...", flush=True)
    files = build_project(src, args.files, args.dirs, rng)

    request = SnapshotRequest(src, dest)
    first = timed(lambda: take_snapshot(request, RecordingReporter()))
    plain_first = timed(lambda: sh("rsync", "-a", f"{src}/", f"{plain}/r0/"))
    print(f"first full snapshot: agsekit {first:.2f} s, plain rsync copy {plain_first:.2f} s")

    # 1. no-change check
    floor = best_of(args.repeat, lambda: sh("find", str(src), "-printf", r"%s %T@\n"))
    dry = best_of(
        args.repeat, lambda: sh("rsync", "-a", "--dry-run", "--delete", f"{src}/", f"{plain}/r0/")
    )

    def agsekit_check() -> None:
        outcome = take_snapshot(request, RecordingReporter())
        assert outcome.status == "unchanged", outcome

    check = best_of(args.repeat, agsekit_check)
    cli = best_of(
        args.repeat,
        lambda: sh(
            sys.executable,
            "-m",
            "agsekit",
            "backup-once",
            "--source-dir",
            str(src),
            "--dest-dir",
            str(dest),
        ),
    )

    # 2. + 3. a snapshot after N changed files, three rounds
    ours, theirs, our_disk, their_disk = [], [], [], []
    for round_no in range(1, 4):
        for path in rng.sample(files, args.changed):
            path.write_bytes(rng.randbytes(rng.randint(1, 4096)))
        before = sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))[-1]
        ours.append(timed(lambda: take_snapshot(request, RecordingReporter())))
        after = sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))[-1]
        prev, new = plain / f"r{round_no - 1}", plain / f"r{round_no}"
        plain_argv = ["rsync", "-a", "--delete", f"--link-dest={prev}", f"{src}/", f"{new}/"]
        theirs.append(timed(partial(sh, *plain_argv)))
        our_disk.append(du_bytes(dest / before, dest / after))
        their_disk.append(du_bytes(prev, new))

    snap, plain_snap = statistics.median(ours), statistics.median(theirs)
    disk, plain_disk = statistics.median(our_disk), statistics.median(their_disk)
    print(f"load at the end: {load()}")
    print()
    print(f"no-change check ({args.files} files, median of {args.repeat}):")
    print(f"  floor (find -printf)       {floor:7.3f} s")
    print(f"  rsync -a --dry-run         {dry:7.3f} s")
    print(
        f"  agsekit (engine)           {check:7.3f} s   {check / floor:5.2f}x floor, "
        f"{check / dry:5.2f}x rsync dry-run   target <= 1.5x floor and < 1x dry-run"
    )
    print(
        f"  agsekit backup-once (CLI)  {cli:7.3f} s   {cli / floor:5.2f}x floor "
        "(includes interpreter start-up)"
    )
    print(f"snapshot after {args.changed} changed files (median of 3):")
    print(f"  rsync --link-dest          {plain_snap:7.3f} s")
    print(f"  agsekit                    {snap:7.3f} s   {snap / plain_snap:5.2f}x   target <= 1x")
    print("disk used by that snapshot (hard links counted once):")
    print(f"  rsync --link-dest          {plain_disk / 1024:9.0f} KiB")
    print(
        f"  agsekit                    {disk / 1024:9.0f} KiB   {disk / plain_disk:5.2f}x   "
        "target <= 1x"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
