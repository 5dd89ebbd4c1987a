#!/usr/bin/env python3
"""Start-up time of the CLI (target: `agsekit --help` well under 200 ms).

Usage: ./.venv/bin/python benchmarks/startup_bench.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = [
    ["--help"],
    ["--version"],
    ["backup-once", "--help"],
    ["run", "--help"],
    ["status", "--help"],
]


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agsekit", *argv], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    baseline = statistics.median(timed_python() for _ in range(args.repeat))
    print(f"bare `python -c pass`: {baseline * 1000:6.1f} ms (median of {args.repeat})")
    for argv in COMMANDS:
        timed(argv)  # warm
        median = statistics.median(timed(argv) for _ in range(args.repeat))
        print(f"agsekit {' '.join(argv):22} {median * 1000:6.1f} ms   target < 200 ms")


def timed_python() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
