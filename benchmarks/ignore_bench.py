"""Micro-benchmark of the ignore rules: cost of IgnoreRules.excluded() and .child().

Run: .venv/bin/python benchmarks/ignore_bench.py [--calls N] [--repeat R] [--hostile]
Prints nanoseconds per call for 0, 10 and 50 typical patterns (plain names, `*.ext`,
`dir/`, `/anchored`, `!re-include`) and 50 patterns that all need a regex, at the root
and 3 levels down, and the cost of child() for a directory without its own ignore file.
Each figure is the best of R runs (the machine may be shared; the best run is the cost).

--hostile adds what an agent-written file costs: for files of N pattern lines of one shape,
the time to read them (parse_ignore_file, then the first lookup compiles the regexes) and
the cost of one excluded() call on ordinary names and on names crafted to match a long way
into the patterns; and the time of one pathological glob against long names.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

from agsekit.snapshots.ignore.files import MAX_FILES_IN_FORCE, MAX_PATTERN_LINES, parse_ignore_file
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

# Shapes of agent-written lines (i: the line's index): each defeats a different fast path.
HOSTILE_SHAPES: dict[str, Callable[[int], str]] = {
    "plain": lambda i: f"name{i}",
    "suffix": lambda i: f"*.ext{i}",
    "wild": lambda i: f"*{i}?.[a-c]x",
    "stars": lambda i: f"*a*b*c*d*e*f*{i}",
    "a-stars": lambda i: "*a" * 8 + f"*b{i}",
    "chunk": lambda i: f"*{'a' * 20}{i}*",
    "path": lambda i: f"a*/b{i}/**/c",
    "dstar": lambda i: f"**/a{i}/**/b/**",
    "dir": lambda i: f"d{i}/x*",
}
# Names an agent can make to match a long way into such patterns before failing.
CRAFTED_NAMES = [(b"a" * 250 + str(i).encode(), i % 2 == 0) for i in range(20)]


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


def ns_per_call(calls: int, repeat: int, run: Callable[[int], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(calls)
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e9


def bench_excluded(
    rules: IgnoreRules, calls: int, repeat: int, names: list[tuple[bytes, bool]] | None = None
) -> float:
    entries = names or entry_names(1000)
    count = len(entries)

    def run(total: int) -> None:
        excluded = rules.excluded
        for i in range(total):
            name, is_dir = entries[i % count]
            excluded(name, is_dir)

    return ns_per_call(calls, repeat, run)


def bench_loop_only(calls: int, repeat: int) -> float:
    names = entry_names(1000)

    def run(total: int) -> None:
        for i in range(total):
            name, is_dir = names[i % 1000]
            _ = (name, is_dir)

    return ns_per_call(calls, repeat, run)


def bench_child(rules: IgnoreRules, calls: int, repeat: int) -> float:
    def run(total: int) -> None:
        for _ in range(total):
            rules.child(b"src", None)

    return ns_per_call(calls, repeat, run)


def typical_table(calls: int, repeat: int) -> None:
    loop = bench_loop_only(calls, repeat)
    print(f"{calls} calls each; the bare loop costs {loop:.0f} ns/call (not subtracted)")
    print(f"{'patterns':>8} {'excluded@root':>14} {'excluded@depth3':>16} {'child()':>9}")
    cases = [(str(count), many_patterns(count)) for count in (0, 10, 50)]
    cases.append(("50 wild", wildcard_patterns(50)))
    for label, patterns in cases:
        root = IgnoreRules.root([], "\n".join(patterns).encode() if patterns else None)
        deep = root.child(b"src", None).child(b"pkg", None).child(b"sub", None)
        at_root = bench_excluded(root, calls, repeat)
        at_depth = bench_excluded(deep, calls, repeat)
        child = bench_child(root, min(calls, 20_000), repeat)
        print(f"{label:>8} {at_root:>11.0f} ns {at_depth:>13.0f} ns {child:>6.0f} ns")


def hostile_table(repeat: int) -> None:
    print(f"\nagent-written files (the cap is {MAX_PATTERN_LINES} pattern lines)")
    print(f"{'shape':>8} {'lines':>6} {'read+compile':>13} {'excluded()':>11} {'crafted':>10}")
    for shape, line in HOSTILE_SHAPES.items():
        for count in (100, MAX_PATTERN_LINES):
            content = "\n".join(line(i) for i in range(count)).encode()
            start = time.perf_counter()
            rules = IgnoreRules.root([], parse_ignore_file(content, ".backupignore"))
            rules = rules.child(b"d1", None)
            rules.excluded(b"x", False)
            build = (time.perf_counter() - start) * 1e3
            lookup = bench_excluded(rules, 1000, repeat) / 1e3
            crafted = bench_excluded(rules, 20, repeat, CRAFTED_NAMES) / 1e3
            print(f"{shape:>8} {count:>6} {build:>10.1f} ms {lookup:>8.1f} us {crafted:>7.0f} us")


def chain(repeat: int) -> None:
    """A folder under as many nested ignore files as the caps let apply."""
    rules = IgnoreRules.root([], None)
    for _ in range(MAX_FILES_IN_FORCE + 10):  # the ones past the cap are not applied
        rules = rules.child(b"a", b"/x\n*.o\n", problems=[])
    child = ns_per_call(200, repeat, functools.partial(_children, rules)) / 1e3
    lookup = bench_excluded(rules, 2000, repeat) / 1e3
    print(f"\nunder {MAX_FILES_IN_FORCE} nested ignore files (the cap):")
    print(f"  child() {child:.0f} us, excluded() {lookup:.1f} us")


def _children(rules: IgnoreRules, calls: int) -> None:
    for _ in range(calls):
        rules.child(b"b", None)


def pathological(repeat: int) -> None:
    glob = "*a" * 20 + "*b"
    print(f"\n`{glob}` against names of `a`s (and a path glob against deep paths)")
    for length in (200, 255, 4000):
        rules = IgnoreRules.root([], glob.encode() + b"\n**/" + glob.encode() + b"/**/x\n")
        deep = rules
        for _ in range(length // 100):
            deep = deep.child(b"a" * 99, None)
        name = b"a" * min(length, 255)
        per_call = ns_per_call(1, repeat, functools.partial(_ask, deep, name)) / 1e3
        print(f"  name of {len(name)} bytes at depth {length // 100}: {per_call:.0f} us")


def _ask(rules: IgnoreRules, name: bytes, _calls: int) -> None:
    rules.excluded(name, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hostile", action="store_true")
    arguments = parser.parse_args()
    typical_table(arguments.calls, arguments.repeat)
    if arguments.hostile:
        hostile_table(arguments.repeat)
        chain(arguments.repeat)
        pathological(arguments.repeat)


if __name__ == "__main__":
    main()
