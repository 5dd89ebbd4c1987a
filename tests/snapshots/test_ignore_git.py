"""Differential test: IgnoreRules keeps exactly the files real git keeps.

Random trees with nested ignore files (written as .gitignore in a `git init` repository)
and random --exclude patterns; git's verdict is `git ls-files --others --exclude-standard`,
which lists the files git does not ignore. git also ranks its command-line `--exclude`
patterns above every .gitignore file, as our spec ranks --exclude above .backupignore.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.snapshots.ignore_walk import kept_files, make_tree

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


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[bytes], dict[bytes, bytes]]:
    """(paths of files, {path of a .gitignore: content}); every directory holds a file.
    Each tree uses a few names only, so that its patterns hit and nest often."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=5, unique=True))
    segments = st.lists(st.sampled_from(names), min_size=1, max_size=3)
    paths = draw(st.lists(segments, max_size=16))
    dirs = {b"/".join(path[:depth]) for path in paths for depth in range(1, len(path))}
    files = {b"/".join(path) for path in paths} - dirs
    files |= {directory + b"/keep" for directory in dirs} - dirs
    ignore_dirs = draw(st.lists(st.sampled_from(sorted({b"", *dirs})), max_size=4, unique=True))
    lines = st.one_of(patterns(names), st.sampled_from([b"", b"# comment", b"   "]))
    ignore_files: dict[bytes, bytes] = {}
    for directory in ignore_dirs:
        content = draw(st.lists(lines, min_size=1, max_size=6))
        newline = draw(st.sampled_from([b"\n", b"\r\n"]))
        name = os.path.join(directory, b".gitignore")
        ignore_files[name] = newline.join(content) + newline
    return sorted(files), ignore_files


def git_kept(root: bytes, excludes: Sequence[bytes]) -> set[bytes]:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": os.fsdecode(root),
    }
    subprocess.run(["git", "init", "-q", root], check=True, env=env)
    command = [b"git", b"-C", root, b"ls-files", b"--others", b"--exclude-standard", b"-z"]
    command += [b"--exclude=" + pattern for pattern in excludes]
    listing = subprocess.run(command, check=True, env=env, capture_output=True).stdout
    return {path for path in listing.split(b"\0") if path}


def assert_same_as_git(
    files: list[bytes], ignore_files: dict[bytes, bytes], excludes: Sequence[bytes]
) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        root = os.path.join(os.fsencode(temporary), b"src")
        os.mkdir(root)
        make_tree(root, files, ignore_files)
        ours = kept_files(root, [os.fsdecode(p) for p in excludes], ignore_name=b".gitignore")
        assert ours == git_kept(root, excludes), (ignore_files, excludes)


DIFFERENTIAL = settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@DIFFERENTIAL
@given(tree=trees())
def test_nested_ignore_files_keep_what_git_keeps(
    tree: tuple[list[bytes], dict[bytes, bytes]],
) -> None:
    files, ignore_files = tree
    assert_same_as_git(files, ignore_files, excludes=[])


@DIFFERENTIAL
@given(tree=trees(), excludes=st.lists(patterns(), min_size=1, max_size=3))
def test_exclude_patterns_rank_as_git_command_line_excludes(
    tree: tuple[list[bytes], dict[bytes, bytes]], excludes: list[bytes]
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
