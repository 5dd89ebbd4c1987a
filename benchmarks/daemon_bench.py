#!/usr/bin/env python3
"""The background service: idle cost, latency from a burst's last write to its snapshot,
and how many snapshots a burst of 10,000 writes makes; plus `backup-once` with nothing
changed against a bare `find SRC -printf '%s %T@\\n'`.

Builds a 100,000-file tree (1,000 folders) in a temporary folder and runs
`agsekit daemon run` on it as a process, with its state in the same folder.

Usage: ./.venv/bin/python benchmarks/daemon_bench.py [--files 100000] [--idle 600]
       [--samples 10] [--only idle,latency,burst,once]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def build(root: Path, files: int, dirs: int) -> None:
    rng = random.Random(7)
    per_dir = max(1, files // dirs)
    for d in range(dirs):
        folder = root / f"pkg{d // 100:03d}" / f"mod{d:05d}"
        folder.mkdir(parents=True)
        for f in range(per_dir):
            (folder / f"file{f:04d}.txt").write_bytes(rng.randbytes(rng.randint(0, 1024)))


def config(base: Path, debounce: str, min_interval: str = "1s", max_delay: str = "60s") -> Path:
    path = base / f"config-{debounce}.yaml"
    path.write_text(
        f"vms: {{a: {{}}}}\ndebounce: {debounce}\nmax_delay: {max_delay}\n"
        f"min_interval: {min_interval}\nmounts:\n  - source: {base / 'src'}\n"
        f"    backup: {base / 'backups'}\n    interval: 60\n"
    )
    return path


class Service:
    def __init__(self, base: Path, config_path: Path) -> None:
        self.env = {**os.environ, "XDG_STATE_HOME": str(base / "state"), "HOME": str(base)}
        self.status_path = base / "state" / "agsekit" / "daemon" / "status.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agsekit", "daemon", "run", "--config", str(config_path)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def mount(self) -> dict[str, object]:
        try:
            return dict(json.loads(self.status_path.read_text())["mounts"][0])
        except (OSError, ValueError, KeyError, IndexError):
            return {}

    def wait_ready(self) -> None:
        while self.mount().get("mode") != "watching" or not self.mount().get("last_snapshot"):
            time.sleep(0.1)
            if self.proc.poll() is not None:
                raise SystemExit("the service exited")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / TICK

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)


def snapshots(base: Path) -> list[str]:
    folder = base / "backups"
    return sorted(p.name for p in folder.iterdir() if p.name[:2] == "20" and "-" not in p.name)


def wait_for_new(base: Path, known: int, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while len(snapshots(base)) <= known:
        if time.monotonic() > deadline:
            raise SystemExit("no snapshot came")
        time.sleep(0.01)
    return time.monotonic()


def idle(base: Path, seconds: float) -> None:
    service = Service(base, config(base, "10s"))
    service.wait_ready()
    time.sleep(5)
    before, start = service.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    used, elapsed = service.cpu_seconds() - before, time.monotonic() - start
    print(
        f"idle {elapsed:.0f} s, nothing changing: CPU {used:.3f} s = {100 * used / elapsed:.4f}% "
        f"of one core (target < 0.1%); RSS {service.rss_kib() / 1024:.1f} MiB; "
        f"watches {service.mount().get('watches')}"
    )
    service.stop()


def latency(base: Path, debounce: str, samples: int) -> None:
    service = Service(base, config(base, debounce))
    service.wait_ready()
    rng = random.Random(3)
    results = []
    for sample in range(samples):
        known = len(snapshots(base))
        for index in range(20):  # a small burst: 20 edits in 20 folders
            d = rng.randrange(1000)
            path = base / "src" / f"pkg{d // 100:03d}" / f"mod{d:05d}" / "file0000.txt"
            path.write_text(f"edit {sample} {index}\n")
            time.sleep(0.01)
        last = time.monotonic()
        results.append(wait_for_new(base, known) - last)
        time.sleep(1.2)  # past min_interval
    results.sort()
    p95 = results[min(len(results) - 1, round(0.95 * (len(results) - 1)))]
    print(
        f"latency, debounce {debounce}, {samples} bursts: median {statistics.median(results):.2f}"
        f" s, p95 {p95:.2f} s (last write -> snapshot complete)"
    )
    service.stop()


def burst(base: Path) -> None:
    service = Service(base, config(base, "10s", min_interval="30s"))
    service.wait_ready()
    known = len(snapshots(base))
    start = time.monotonic()
    for index in range(10_000):
        d = index % 1000
        path = base / "src" / f"pkg{d // 100:03d}" / f"mod{d:05d}" / f"burst{index:05d}.txt"
        path.write_text(f"{index}\n")
    took = time.monotonic() - start
    wait_for_new(base, known)
    time.sleep(25)  # debounce + min_interval: any further snapshot would have come by now
    made = len(snapshots(base)) - known
    print(f"burst of 10,000 writes in {took:.1f} s: {made} snapshot(s) (target 1)")
    service.stop()


def once(base: Path, repeat: int = 15) -> None:
    src = str(base / "src")
    env = {**os.environ, "HOME": str(base), "XDG_CONFIG_HOME": str(base / "none")}
    find = ["find", src, "-printf", "%s %T@\n"]
    cli = [sys.executable, "-m", "agsekit", "backup-once", "--source-dir", src, "--dest-dir"]
    cli.append(str(base / "backups"))

    def timed(argv: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
        )
        return time.perf_counter() - start

    for _ in range(2):
        timed(find), timed(cli)
    floor = statistics.median(timed(find) for _ in range(repeat))
    ours = statistics.median(timed(cli) for _ in range(repeat))
    print(
        f"backup-once, nothing changed: {ours:.3f} s vs find -printf {floor:.3f} s = "
        f"{ours / floor:.2f}x (target <= 1.5x; median of {repeat})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--idle", type=float, default=600)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--only", default="idle,latency,burst,once")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parts = set(args.only.split(","))
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="agsekit-daemon-bench-") as tmp:
        base = Path(tmp)
        build(base / "src", args.files, 1000)
        if "idle" in parts:
            idle(base, args.idle)
        if "latency" in parts:
            latency(base, "10s", args.samples)
            latency(base, "1s", args.samples * 2)
        if "burst" in parts:
            burst(base)
        if "once" in parts:
            once(base)
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
