"""Differential test: IgnoreRules keeps exactly the files real git keeps.

Random trees with nested ignore files (written as .gitignore in a `git init` repository)
and random --exclude patterns; git's verdict is `git ls-files --others --exclude-standard`,
which lists the files git does not ignore. git also ranks its command-line `--exclude`
patterns above every .gitignore file, as our spec ranks --exclude above .backupignore.
Without --exclude patterns, the rule each entry is decided by (IgnoreRules.deciding_rule)
is also compared with `git check-ignore -v`: the same file, line number and pattern.

Globs an agent could use to make matching slow (exponential backtracking in a plain regex
translation) are checked against git in a subprocess with a timeout, so that a regression
fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.snapshots.ignore_walk import make_tree, walk

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

# Names chosen so that the patterns below hit them often, including awkward ones: spaces,
# a leading `#`, `!` or `-`, glob characters, a backslash, UTF-8 and non-UTF-8 bytes.
NAMES = [
    b"a",
    b"b",
    b"ab",
    b"a.log",
    b"b.tmp",
    b"logs",
    b"keep",
    b"x y",
    b"t ",
    b"#h",
    b"!n",
    b"[a]",
    b"a*",
    b"a\\b",
    b"-z",
    b"A1",
    b"caf\xc3\xa9",
    b"caf\xe9",
]

# Pattern pieces beyond the names themselves (bytes, as they would stand in an ignore file).
GLOB_ATOMS = [
    b"*",
    b"**",
    b"?",
    b"a*",
    b"*.log",
    b"[ab]",
    b"[!a]*",
    b"[a-c]?",
    b"[^b]",
    b"[[:alpha:]]*",
    b"[[:digit:]]?",
    b"[]a]",
    b"[z-a]b",
    b"x\\ y",
    b"t\\ ",
    b"\\#h",
    b"\\!n",
    b"\\[a]",
    b"a\\*",
    b"a\\\\b",
    b"caf?",
    b"*\xa9",
]


@st.composite
def patterns(draw: st.DrawFn, names: Sequence[bytes] = NAMES) -> bytes:
    atoms = st.one_of(st.sampled_from(names), st.sampled_from(GLOB_ATOMS))
    negate = b"!" if draw(st.booleans()) else b""
    anchor = b"/" if draw(st.integers(0, 3)) == 0 else b""
    body = b"/".join(draw(st.lists(atoms, min_size=1, max_size=3)))
    dir_only = b"/" if draw(st.integers(0, 3)) == 0 else b""
    trailing = b"  " if draw(st.integers(0, 5)) == 0 else b""
    return negate + anchor + body + dir_only + trailing


# Short names over two letters and globs made of wildcards only, so that `*`, `**`, `?` and
# brackets meet many ways to place them (the cases a leftmost, committed matcher must get
# right, and a backtracking one takes long on).
WILD_NAMES = [b"a", b"b", b"ab", b"ba", b"aab", b"abab", b"bab", b"aaaa", b"abba"]
WILD_TOKENS = [b"a", b"b", b"*", b"*", b"?", b"**", b"/", b"/", b"[ab]", b"[!a]", b"ab"]


@st.composite
def wild_patterns(draw: st.DrawFn, names: Sequence[bytes] = WILD_NAMES) -> bytes:
    del names  # the tokens already spell the names' letters
    negate = b"!" if draw(st.integers(0, 3)) == 0 else b""
    body = b"".join(draw(st.lists(st.sampled_from(WILD_TOKENS), min_size=1, max_size=9)))
    dir_only = b"/" if draw(st.integers(0, 4)) == 0 else b""
    return negate + body + dir_only


Tree = tuple[list[bytes], dict[bytes, bytes]]
PatternStrategy = Callable[[Sequence[bytes]], st.SearchStrategy[bytes]]


@st.composite
def trees(
    draw: st.DrawFn, pool: Sequence[bytes] = NAMES, pattern_lines: PatternStrategy = patterns
) -> Tree:
    """(paths of files, {path of a .gitignore: content}); every directory holds a file.
    Each tree uses a few names of `pool` only, so that its patterns hit and nest often."""
    names = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=5, unique=True))
    segments = st.lists(st.sampled_from(names), min_size=1, max_size=4)
    paths = draw(st.lists(segments, max_size=16))
    dirs = {b"/".join(path[:depth]) for path in paths for depth in range(1, len(path))}
    files = {b"/".join(path) for path in paths} - dirs
    files |= {directory + b"/keep" for directory in dirs} - dirs
    ignore_dirs = draw(st.lists(st.sampled_from(sorted({b"", *dirs})), max_size=4, unique=True))
    lines = st.one_of(pattern_lines(names), st.sampled_from([b"", b"# comment", b"   "]))
    ignore_files: dict[bytes, bytes] = {}
    for directory in ignore_dirs:
        content = draw(st.lists(lines, min_size=1, max_size=6))
        newline = draw(st.sampled_from([b"\n", b"\r\n"]))
        name = os.path.join(directory, b".gitignore")
        ignore_files[name] = newline.join(content) + newline
    return sorted(files), ignore_files


def git_env(root: bytes) -> dict[str, str]:
    return {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": os.fsdecode(root),
    }


def git_kept(root: bytes, excludes: Sequence[bytes]) -> set[bytes]:
    env = git_env(root)
    subprocess.run(["git", "init", "-q", root], check=True, env=env)
    command = [b"git", b"-C", root, b"ls-files", b"--others", b"--exclude-standard", b"-z"]
    command += [b"--exclude=" + pattern for pattern in excludes]
    listing = subprocess.run(command, check=True, env=env, capture_output=True).stdout
    return {path for path in listing.split(b"\0") if path}


Decision = tuple[bytes, int, bytes] | None  # (ignore file, line, pattern) of the deciding rule


def git_decisions(root: bytes, paths: Iterable[bytes]) -> dict[bytes, Decision]:
    """What `git check-ignore -v` says decides each path (after git_kept made the repo)."""
    paths = list(paths)
    command = [b"git", b"-C", root, b"check-ignore", b"-v", b"-n", b"--no-index", b"--stdin"]
    output = subprocess.run(
        [*command, b"-z"],
        input=b"".join(path + b"\0" for path in paths),
        env=git_env(root),
        capture_output=True,
        check=False,  # exit 1: nothing matched
    ).stdout
    fields = output.split(b"\0")[:-1]
    decisions: dict[bytes, Decision] = {}
    for start in range(0, len(fields), 4):
        source, line, pattern, path = fields[start : start + 4]
        decisions[path] = (source, int(line), pattern) if source else None
    assert set(decisions) == set(paths), output
    return decisions


def assert_same_as_git(
    files: list[bytes],
    ignore_files: dict[bytes, bytes],
    excludes: Sequence[bytes],
    compare_rules: bool = True,
) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        root = os.path.join(os.fsencode(temporary), b"src")
        os.mkdir(root)
        make_tree(root, files, ignore_files)
        ours = walk(root, [os.fsdecode(p) for p in excludes], ignore_name=b".gitignore")
        assert ours.kept == git_kept(root, excludes), (ignore_files, excludes)
        if excludes or not compare_rules:
            return  # check-ignore knows no --exclude
        decisions = {
            path: None if rule is None else (os.fsencode(rule.origin), rule.line, rule.text)
            for path, rule in ours.decisions.items()
        }
        assert decisions == git_decisions(root, decisions), ignore_files


DIFFERENTIAL = settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@DIFFERENTIAL
@given(tree=trees())
def test_nested_ignore_files_keep_what_git_keeps(tree: Tree) -> None:
    files, ignore_files = tree
    assert_same_as_git(files, ignore_files, excludes=[])


@DIFFERENTIAL
@given(tree=trees(WILD_NAMES, wild_patterns))
def test_wildcard_globs_match_as_git_matches_them(tree: Tree) -> None:
    files, ignore_files = tree
    assert_same_as_git(files, ignore_files, excludes=[])


@DIFFERENTIAL
@given(tree=trees(), excludes=st.lists(patterns(), min_size=1, max_size=3))
def test_exclude_patterns_rank_as_git_command_line_excludes(
    tree: Tree, excludes: list[bytes]
) -> None:
    files, ignore_files = tree
    assert_same_as_git(files, ignore_files, excludes)


# A fixed tree (every directory holds a file of every name it has no directory of) and
# ignore files with each tricky form once, so that each form is checked even if the random
# trees above miss it.
CORPUS_DIRS = [b"a", b"a/b", b"a/a", b"a/b/a", b"logs", b"logs/a", b"x y"]
CORPUS_NAMES = [b"a", b"b", b"ab", b"a.log", b"logs", b"x y", b"t ", b"#h", b"!n", b"[a]"]
CORPUS_NAMES += [b"a*", b"a\\b", b"A1", b"-z", b"caf\xe9", b"caf\xc3\xa9"]
CORPUS_FILES = [
    os.path.join(directory, name)
    for directory in [b"", *CORPUS_DIRS]
    for name in CORPUS_NAMES
    if os.path.join(directory, name) not in CORPUS_DIRS
]
SINGLE_LINES = [
    *[atom.decode("latin-1") for atom in GLOB_ATOMS],
    *["/a", "a/", "/a/", "a/b", "/a/b", "a/b/", "*/a", "a/*", "a/*/a", "/*", "*/", "/**"],
    *["**/a", "**/a/", "a/**", "a/**/", "a/**/b", "a/**/a", "**/b/**", "**/", "**", "***"],
    *["a**", "**a", "a/***/b", "**\\/a", "\\**/a", "**/logs/*.log", "[ab]/[!a]", "x\\ y/"],
    *["t \\ ", "caf??", "a//b", "/", "!", "\\", "a\\", "[", "[a", "[[:foo:]]", "[[:alpha]"],
    *[
        "/a[!x]b/**",
        "[a-]*",
        "[-a]*",
        "[\\]]*",
        "[[]*",
        "[!]]*",
        "#h",
        "!n",
        "\\!n",
        " a",
        "a ",
        "a\t",
    ],
]
MULTI_LINES = [
    "*\n!a",
    "*\n!*/\n!*.log",
    "a/\n!a/b",
    "a/*\n!a/b",
    "!*.log\n*.log",
    "*.log\n!a.log",
    "**/a\n!a/**/a",
    "a/**\n!a/b/",
    "logs\n!logs/",
    "a*\n!ab",
    "[ab]*\n!*.log\nab",
    "*.log\n!a[.]log\n!logs/a.log\nlogs/*",
    "/a/b/\n!a/b\na/*/a",
]


@pytest.mark.parametrize("content", SINGLE_LINES + MULTI_LINES)
def test_tricky_forms_keep_what_git_keeps(content: str) -> None:
    ignore = {b".gitignore": content.encode("latin-1") + b"\n"}
    assert_same_as_git(CORPUS_FILES, ignore, excludes=[])


# Globs that take a plain regex translation exponential (or high polynomial) time on long
# names and deep paths: `repeat` and `stars` set their size.
def pathological_lines(repeat: int, stars: int) -> list[str]:
    return [
        "*a" * stars + "*b",
        "*a" * stars + "*",
        "**/" * repeat + "b",
        "a/**/" * repeat + "b",
        "**/a*/**/" * repeat + "b",
        "*a*/" * repeat + "b",
        "**/" + "*a" * stars + "*b/**/c",
        "[a]*" * stars + "b",
        "?*" * (2 * stars) + "b",
        "*" + "a" * (5 * stars) + "b*",
        "*" + "a" * (5 * stars) + "b",
    ]


def pathological_files(length: int, depth: int) -> list[bytes]:
    """Long names of `a`s, deep paths of `a` directories (F1 to F7 below)."""
    name = b"a" * length
    return [
        name,
        name + b"b",
        (b"a" * (length // 4) + b"/") * 4 + name,
        b"a/" * depth + name,
        b"a/" * depth + b"b/c",
        b"a/" * 4 + b"b/c",
        b"a" * (length // 2) + b"b/x/c",
    ]


# At full size git itself takes minutes on some of these (its wildmatch backtracks on
# `**/*a*a*...*b/**/c` and `*a*/*a*/.../b`), so the full size is checked against what each
# line leaves out (numbers of pathological_files, from 1), and a smaller size against git.
FULL_SIZE = {"repeat": 30, "stars": 20, "length": 200, "depth": 30}
FULL_SIZE_LEFT_OUT = [
    {2, 7},
    {1, 2, 3, 4, 7},
    {5, 6},
    {5},
    {5},
    {5},
    {7},
    {2, 7},
    {2, 7},
    {2, 7},
    {2, 7},
]


def check_pathological_globs() -> None:
    """Every pathological glob at full size, then smaller ones (alone and all in one file)
    against git."""
    lines = pathological_lines(FULL_SIZE["repeat"], FULL_SIZE["stars"])
    files = pathological_files(FULL_SIZE["length"], FULL_SIZE["depth"])
    for line, left_out in zip(lines, FULL_SIZE_LEFT_OUT, strict=True):
        with tempfile.TemporaryDirectory() as temporary:
            root = os.fsencode(temporary)
            make_tree(root, files, {b".gitignore": line.encode() + b"\n"})
            kept = walk(root, ignore_name=b".gitignore").kept
        expected = {b".gitignore"} | {f for i, f in enumerate(files, 1) if i not in left_out}
        assert kept == expected, line
    small_lines = pathological_lines(repeat=4, stars=6)
    small_files = pathological_files(length=40, depth=8)
    for line in [*small_lines, "\n".join(small_lines)]:
        assert_same_as_git(small_files, {b".gitignore": line.encode() + b"\n"}, excludes=[])


def test_pathological_globs_match_as_git_without_hanging() -> None:
    repository = Path(__file__).resolve().parents[2]
    script = "from tests.snapshots.test_ignore_git import check_pathological_globs as c; c()"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=30,  # catches a hang only; the real cost is in benchmarks/ignore_bench.py
        check=False,
    )
    assert done.returncode == 0, done.stderr
