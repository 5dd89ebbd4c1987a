#!/usr/bin/env python3
"""Restore benchmark: agsekit's in-place restores against plain rsync, side by side.

Builds the synthetic project of snapshot_bench.py (100,000 files of 0-4 KiB in 1,000
folders), takes a first agsekit snapshot and a plain `rsync -a` copy of it, and then
measures, in rounds, in this one run:
  1. a full in-place restore of the wiped project (`backup-restore --snapshot S
     --in-place`), against `rsync -a SNAPSHOT/ PROJECT/`;
  2. the first snapshot after that restore, against `rsync -a --delete
     --link-dest=PREV PROJECT/ NEW/` after the rsync restore: time, new data written
     (du of the new snapshot with its hard links to the previous one counted there), and
     files reported modified (rsync: regular files it transferred);
  3. a restore of 100 deleted files (with the safety snapshot, when the restore needs
     one), against a 100-change `backup-once`; plain `rsync -a --files-from` for those
     100 files is shown for information, as are a whole-snapshot restore with the same
     100 files missing and a restore of 100 overwritten files (which does need a safety
     snapshot).
Targets: (1) at most the rsync time; (2) at most rsync's time and new data, and 0 files
modified; (3) at most 1.5x the 100-change backup-once.

agsekit runs in-process through the engine API (restore_in_place and take_snapshot, as
the commands call them, without the alarm's aftercare); the `(CLI)` rows run the real
command in a child process, interpreter start-up included. Every timed step starts after
an untimed `sync`, so that no step pays for the writeback of the one before, and each
full restore after an untimed read of its source, so that both tools start from a warm
cache. Medians of --rounds rounds (3), with each single run listed below the tables. The
targets are on wall-clock time; a second table gives the CPU times of the same steps,
which another program's load on the machine disturbs less (the load is printed at the
start and end).

Usage: ./.venv/bin/python benchmarks/restore_bench.py [--files 100000] [--dirs 1000]
       [--changed 100] [--rounds 3] [--no-cli] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine.snapshot import SnapshotOutcome, SnapshotRequest, take_snapshot
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.restore.plan import Wanted
from agsekit.snapshots.restore.run import RestoreRun, restore_in_place
from bench_common import build_project, du_bytes, load, machine, sh, timed


@dataclass
class Series:
    """The single runs of one measurement."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> float:
        self.values.append(value)
        return value

    @property
    def median(self) -> float:
        return statistics.median(self.values)


@dataclass
class Bench:
    project: Path
    store: Store
    plain: Path
    rng: random.Random
    files: list[Path]
    use_cli: bool
    series: dict[str, Series] = field(default_factory=dict)
    notes: dict[str, set[str]] = field(default_factory=dict)
    trash: Path = Path()  # where wipe() moves the project's content
    plain_latest: int = 0
    cpu_table: bool = False  # rows() gives CPU times instead of wall-clock times

    def record(self, key: str, value: float) -> float:
        return self.series.setdefault(key, Series()).add(value)

    def measure(self, key: str, action: Callable[[], object]) -> None:
        """Time the action after a sync; its CPU time (this process and its children)
        goes to key + CPU."""
        os.sync()
        before = cpu_seconds()
        self.record(key, timed(action))
        self.record(key + CPU, cpu_seconds() - before)

    def note(self, key: str, text: str) -> None:
        self.notes.setdefault(key, set()).add(text)

    @property
    def request(self) -> SnapshotRequest:
        return SnapshotRequest(self.project, self.store.dest)

    def snapshot(self) -> SnapshotOutcome:
        return take_snapshot(self.request, RecordingReporter())

    def restore(self, paths: tuple[bytes, ...] = ()) -> RestoreRun:
        latest = self.store.latest()
        assert latest is not None
        return restore_in_place(
            self.store, [Wanted(latest, paths)], self.project, RecordingReporter()
        )

    def cli(self, *argv: str, cwd: Path | None = None) -> None:
        subprocess.run(
            [sys.executable, "-m", "agsekit", *argv],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=cwd,
        )

    def plain_dir(self, number: int) -> Path:
        return self.plain / f"r{number}"


CPU = "@cpu"


def cpu_seconds() -> float:
    """User and system time of this process and of its children that were waited for."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def settled(action: Callable[[], object]) -> float:
    """Flush what earlier steps left in the page cache, then time the action."""
    os.sync()
    return timed(action)


def wipe(folder: Path, trash: Path) -> None:
    """Empty folder (a wiped project: the folder itself stays) by moving what it holds
    into a new folder of trash, removed at the end: deleting 100,000 files right before
    a timed step makes ext4 (with its discards) slow the creates of that step."""
    bin_ = trash / str(len(os.listdir(trash)))
    bin_.mkdir()
    for name in os.listdir(folder):
        (folder / name).rename(bin_ / name)


def warm(folder: Path) -> None:
    """Read every file below folder, so that a restore from it starts from a warm cache
    whichever tool ran before (the page cache of a small VM does not keep them all)."""
    for top, _dirs, names in os.walk(folder):
        for name in names:
            with Path(top, name).open("rb") as handle:
                while handle.read(1 << 20):
                    pass


def rel(project: Path, path: Path) -> bytes:
    return os.fsencode(path.relative_to(project))


def rsync_transferred(argv: list[str]) -> int:
    """Run rsync with --stats; the number of regular files it transferred."""
    out = subprocess.run([*argv, "--stats"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Number of regular files transferred: ([\d,]+)", out)
    return int(found.group(1).replace(",", "")) if found else -1


def full_restore_round(bench: Bench, count: int) -> None:
    """1. and 2.: wipe, restore everything, snapshot; the same with rsync."""
    latest = bench.store.latest()
    assert latest is not None
    if bench.use_cli:
        wipe(bench.project, bench.trash)
        warm(bench.store.path_of(latest))
        bench.measure(
            "full_cli",
            lambda: bench.cli(
                "backup-restore",
                "--dest-dir",
                str(bench.store.dest),
                "--snapshot",
                "latest",
                "--in-place",
            ),
        )
    wipe(bench.project, bench.trash)
    warm(bench.store.path_of(latest))
    runs: list[RestoreRun] = []
    bench.measure("full", lambda: runs.append(bench.restore()))
    result = runs[0].result
    assert result is not None and result.files == count and not result.left_alone, result
    if runs[0].safety is not None and runs[0].safety.name is not None:
        bench.note("full", f"safety snapshot {runs[0].safety.name}")

    before = bench.store.latest()
    outcomes: list[SnapshotOutcome] = []
    bench.measure("after", lambda: outcomes.append(bench.snapshot()))
    outcome = outcomes[0]
    bench.note("after", outcome.status)
    bench.record("after_modified", outcome.modified)
    if outcome.status == "created":
        assert before is not None and outcome.name is not None
        new = du_bytes(bench.store.path_of(before), bench.store.path_of(outcome.name))
    else:
        new = 0  # no new snapshot folder: nothing written but the refreshed manifest
    bench.record("after_data", new)

    prev = bench.plain_dir(bench.plain_latest)
    wipe(bench.project, bench.trash)
    warm(prev)
    bench.measure("full_rsync", lambda: sh("rsync", "-a", f"{prev}/", f"{bench.project}/"))
    new_dir = bench.plain_dir(bench.plain_latest + 1)
    argv = ["rsync", "-a", "--delete", f"--link-dest={prev}", f"{bench.project}/", f"{new_dir}/"]
    moved: list[int] = []
    bench.measure("after_rsync", lambda: moved.append(rsync_transferred(argv)))
    bench.record("after_rsync_modified", moved[0])
    bench.record("after_rsync_data", du_bytes(prev, new_dir))
    bench.plain_latest += 1


def change_files(bench: Bench, count: int) -> None:
    for path in bench.rng.sample(bench.files, count):
        path.write_bytes(bench.rng.randbytes(bench.rng.randint(1, 4096)))


def small_restore_round(bench: Bench, count: int) -> None:
    """3.: a 100-change backup-once, then restores of 100 deleted (or changed) files."""
    change_files(bench, count)
    outcomes: list[SnapshotOutcome] = []
    bench.measure("once", lambda: outcomes.append(bench.snapshot()))
    assert outcomes[0].status == "created" and outcomes[0].modified == count, outcomes[0]
    if bench.use_cli:
        change_files(bench, count)
        store = str(bench.store.dest)
        project = str(bench.project)
        bench.measure(
            "once_cli",
            lambda: bench.cli("backup-once", "--source-dir", project, "--dest-dir", store),
        )

    chosen = sorted(bench.rng.sample(bench.files, count))
    paths = tuple(rel(bench.project, p) for p in chosen)

    def delete_chosen() -> None:
        for path in chosen:
            path.unlink()

    delete_chosen()
    runs: list[RestoreRun] = []
    bench.measure("deleted", lambda: runs.append(bench.restore(paths)))
    check_restored(bench, "deleted", runs[0], count)

    if bench.use_cli:
        delete_chosen()
        names = [os.fsdecode(p) for p in paths]
        store = str(bench.store.dest)
        bench.measure(
            "deleted_cli",
            lambda: bench.cli(
                "backup-restore",
                "--dest-dir",
                store,
                "--snapshot",
                "latest",
                "--in-place",
                *names,
                cwd=bench.project,
            ),
        )

    latest = bench.store.latest()
    assert latest is not None
    snapshot = bench.store.path_of(latest)
    delete_chosen()
    listing = bench.plain / "files-from"
    listing.write_bytes(b"".join(p + b"\n" for p in paths))
    argv = ["rsync", "-a", f"--files-from={listing}", f"{snapshot}/", f"{bench.project}/"]
    bench.measure("deleted_rsync", lambda: sh(*argv))

    delete_chosen()
    runs = []
    bench.measure("deleted_whole", lambda: runs.append(bench.restore()))
    check_restored(bench, "deleted_whole", runs[0], count)

    change_files_at(bench, chosen)
    runs = []
    bench.measure("overwritten", lambda: runs.append(bench.restore(paths)))
    check_restored(bench, "overwritten", runs[0], count)
    bench.snapshot()  # the safety snapshot holds the changed files: back to the restored state


def change_files_at(bench: Bench, chosen: list[Path]) -> None:
    for path in chosen:
        path.write_bytes(bench.rng.randbytes(bench.rng.randint(1, 4096)))


def check_restored(bench: Bench, key: str, run: RestoreRun, count: int) -> None:
    result = run.result
    assert result is not None and result.files == count and not result.left_alone, result
    safety = run.safety
    if safety is None or safety.name is None:
        bench.note(key, "no safety snapshot needed (the restore only creates)")
    elif safety.created:
        bench.note(key, "safety snapshot taken")
    else:
        bench.note(key, "safety snapshot: the latest one already held the live state")


@dataclass(frozen=True)
class Row:
    what: str
    ours: str
    reference: str
    ratio: str
    target: str
    met: str


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def kib(value: float) -> str:
    return f"{value / 1024:,.0f} KiB"


def time_row(
    bench: Bench, what: str, ours: str, ref: str, ref_label: str, *, limit: float | None
) -> Row:
    if bench.cpu_table:
        ours, ref, limit = ours + CPU, ref + CPU, None
    a, b = bench.series[ours].median, bench.series[ref].median
    ratio = a / b
    target = f"<= {limit:g}x" if limit is not None else "(information)"
    met = ("yes" if ratio <= limit else "NO") if limit is not None else ""
    return Row(what, seconds(a), f"{ref_label}: {seconds(b)}", f"{ratio:.2f}x", target, met)


def data_rows(bench: Bench) -> list[Row]:
    """New data and modified files of the first snapshot after the full restore."""
    table: list[Row] = []
    ours, theirs = bench.series["after_data"].median, bench.series["after_rsync_data"].median
    table.append(
        Row(
            "new data written by that snapshot",
            kib(ours),
            f"rsync: {kib(theirs)}",
            f"{ours / theirs:.2f}x" if theirs else "-",
            "<= 1x",
            "yes" if ours <= theirs else "NO",
        )
    )
    modified = max(bench.series["after_modified"].values)
    moved = max(bench.series["after_rsync_modified"].values)
    table.append(
        Row(
            "files reported modified by that snapshot (most in any round)",
            f"{modified:.0f}",
            f"rsync transferred: {moved:.0f}",
            "-",
            "0",
            "yes" if modified == 0 else "NO",
        )
    )
    return table


def rows(bench: Bench) -> list[Row]:
    table = [
        time_row(
            bench,
            "full in-place restore of the wiped project (engine)",
            "full",
            "full_rsync",
            "`rsync -a SNAPSHOT/ PROJECT/`",
            limit=1,
        )
    ]
    if bench.use_cli:
        table.append(
            time_row(
                bench,
                "the same, `backup-restore --in-place` (CLI)",
                "full_cli",
                "full_rsync",
                "rsync",
                limit=None,
            )
        )
    status = "/".join(sorted(bench.notes.get("after", set())))
    table.append(
        time_row(
            bench,
            f"first snapshot after that restore ({status})",
            "after",
            "after_rsync",
            "`rsync -a --delete --link-dest`",
            limit=1,
        )
    )
    if not bench.cpu_table:
        table += data_rows(bench)
    table.append(
        time_row(
            bench,
            "restore of 100 deleted files, named (engine)",
            "deleted",
            "once",
            "100-change `backup-once` (engine)",
            limit=1.5,
        )
    )
    if bench.use_cli:
        table.append(
            time_row(
                bench,
                "the same, `backup-restore --in-place PATH...` (CLI)",
                "deleted_cli",
                "once_cli",
                "100-change `backup-once` (CLI)",
                limit=1.5,
            )
        )
    table.append(
        time_row(
            bench,
            "restore of 100 deleted files, named (engine)",
            "deleted",
            "deleted_rsync",
            "`rsync -a --files-from` (100 files)",
            limit=None,
        )
    )
    table.append(
        time_row(
            bench,
            "whole-snapshot in-place restore, 100 files missing (engine)",
            "deleted_whole",
            "once",
            "100-change backup-once",
            limit=None,
        )
    )
    table.append(
        time_row(
            bench,
            "restore of 100 overwritten files, with safety snapshot (engine)",
            "overwritten",
            "once",
            "100-change backup-once",
            limit=None,
        )
    )
    return table


def print_table(table: list[Row]) -> None:
    header = Row("measurement", "agsekit", "reference", "ratio", "target", "met?")
    for row in [header, *table]:
        print("| " + " | ".join(astuple(row)) + " |")
        if row is header:
            print("|" + "---|" * len(astuple(header)))


LABELS = {
    "full": "full restore, engine (s)",
    "full_cli": "full restore, CLI (s)",
    "full_rsync": "full restore, rsync -a (s)",
    "after": "first snapshot after it, engine (s)",
    "after_rsync": "rsync --link-dest after the rsync restore (s)",
    "after_data": "new data, agsekit (bytes)",
    "after_rsync_data": "new data, rsync (bytes)",
    "after_modified": "files modified, agsekit",
    "after_rsync_modified": "files transferred, rsync",
    "once": "100-change backup-once, engine (s)",
    "once_cli": "100-change backup-once, CLI (s)",
    "deleted": "restore 100 deleted, engine (s)",
    "deleted_cli": "restore 100 deleted, CLI (s)",
    "deleted_rsync": "rsync -a --files-from, 100 files (s)",
    "deleted_whole": "whole-snapshot restore, 100 missing (s)",
    "overwritten": "restore 100 overwritten, engine (s)",
}


def print_runs(bench: Bench) -> None:
    print("single runs:")
    for key, label in LABELS.items():
        series = bench.series.get(key)
        if series is None:
            continue
        shown = ", ".join(f"{v:.3f}" if v < 1000 else f"{v:,.0f}" for v in series.values)
        cpu = bench.series.get(key + CPU)
        if cpu is not None:
            shown += "   (CPU: " + ", ".join(f"{v:.3f}" for v in cpu.values) + ")"
        print(f"  {label:48} {shown}")
    for key, texts in sorted(bench.notes.items()):
        print(f"  {LABELS.get(key, key)}: {'; '.join(sorted(texts))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=1_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="skip the (CLI) rows")
    parser.add_argument("--keep", type=Path, help="work in this folder instead of a temp one")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="agsekit-restore-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    project, plain = work / "project", work / "plain"
    plain.mkdir()
    rng = random.Random(42)
    print(f"machine: {machine()}")
    print(f"load at the start: {load()}")
    print(f"building {args.files} files in {args.dirs} folders under {work} ...", flush=True)
    files = build_project(project, args.files, args.dirs, rng)
    bench = Bench(project, Store(work / "store"), plain, rng, files, use_cli=not args.no_cli)
    bench.trash = work / "trash"
    bench.trash.mkdir()
    first = settled(bench.snapshot)
    plain_first = settled(lambda: sh("rsync", "-a", f"{project}/", f"{bench.plain_dir(0)}/"))
    print(f"first full snapshot: agsekit {first:.2f} s, plain rsync copy {plain_first:.2f} s")

    count = len(files)
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}: full restore ...", flush=True)
        full_restore_round(bench, count)
    bench.snapshot()  # the project holds rsync's copies now: settle them by content
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}: {args.changed} files ...", flush=True)
        small_restore_round(bench, args.changed)

    print()
    print(f"load at the end: {load()}")
    print(f"{args.files} files, median of {args.rounds} rounds, wall-clock time:")
    print_table(rows(bench))
    print()
    print("the same, CPU time (user + system, of agsekit or rsync and its children):")
    bench.cpu_table = True
    print_table(rows(bench))
    print()
    print_runs(bench)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
