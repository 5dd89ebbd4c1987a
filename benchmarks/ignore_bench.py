"""Micro-benchmark of the ignore rules: cost of IgnoreRules.excluded() and .child().

Run: .venv/bin/python benchmarks/ignore_bench.py [--calls N]
Prints nanoseconds per call for 0, 10 and 50 typical patterns (plain names, `*.ext`,
`dir/`, `/anchored`, `!re-include`) and 50 patterns that all need a regex, at the root
and 3 levels down, and the cost of child() for a directory without its own ignore file.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from agsekit.snapshots.ignore.rules import IgnoreRules

TYPICAL = [
    "venv/",
    "node_modules/",
    "*.log",
    "*.tmp",
    "!logs/important.log",
    "docs/build/",
    "__pycache__/",
    "*.py[co]",
    ".cache/",
    "/dist",
]


def many_patterns(count: int) -> list[str]:
    extra = [
        form.format(i)
        for i in range(count)
        for form in ("*.ext{}", "build{}/", "/out{}", "dir{}/*.o", "!keep{}.txt")
    ]
    return (TYPICAL + extra)[:count]


def wildcard_patterns(count: int) -> list[str]:
    """Patterns that all need the regex path (no plain name, no `*suffix` form)."""
    return [f"*{i}?.[a-c]x" if i % 2 else f"cache[0-9]{i}*/" for i in range(count)]


def entry_names(count: int) -> list[tuple[bytes, bool]]:
    stems = ["main", "util", "README", "test_app", "data", "image", "notes"]
    suffixes = [".py", ".md", ".json", ".log", ".png", ".txt", ""]
    return [
        (f"{stems[i % len(stems)]}{i}{suffixes[i % len(suffixes)]}".encode(), i % 10 == 0)
        for i in range(count)
    ]


def ns_per_call(calls: int, run: Callable[[int], None]) -> float:
    start = time.perf_counter()
    run(calls)
    return (time.perf_counter() - start) / calls * 1e9


def bench_excluded(rules: IgnoreRules, calls: int) -> float:
    names = entry_names(1000)

    def run(total: int) -> None:
        excluded = rules.excluded
        for i in range(total):
            name, is_dir = names[i % 1000]
            excluded(name, is_dir)

    return ns_per_call(calls, run)


def bench_loop_only(calls: int) -> float:
    names = entry_names(1000)

    def run(total: int) -> None:
        for i in range(total):
            name, is_dir = names[i % 1000]
            _ = (name, is_dir)

    return ns_per_call(calls, run)


def bench_child(rules: IgnoreRules, calls: int) -> float:
    def run(total: int) -> None:
        for _ in range(total):
            rules.child(b"src", None)

    return ns_per_call(calls, run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000)
    calls = parser.parse_args().calls
    loop = bench_loop_only(calls)
    print(f"{calls} calls each; the bare loop costs {loop:.0f} ns/call (not subtracted)")
    print(f"{'patterns':>8} {'excluded@root':>14} {'excluded@depth3':>16} {'child()':>9}")
    cases = [(str(count), many_patterns(count)) for count in (0, 10, 50)]
    cases.append(("50 wild", wildcard_patterns(50)))
    for label, patterns in cases:
        root = IgnoreRules.root([], "\n".join(patterns).encode() if patterns else None)
        deep = root.child(b"src", None).child(b"pkg", None).child(b"sub", None)
        at_root = bench_excluded(root, calls)
        at_depth = bench_excluded(deep, calls)
        child = bench_child(root, min(calls, 20_000))
        print(f"{label:>8} {at_root:>11.0f} ns {at_depth:>13.0f} ns {child:>6.0f} ns")


if __name__ == "__main__":
    main()
