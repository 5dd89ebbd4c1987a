"""patch.format_patch: git's format, and patches that GNU patch -p1 and git apply apply.

Each case builds a real folder A and the folder B it should become, formats the patch,
applies it to copies of A with both tools and compares the result with B byte for byte
(content, link targets, and the file modes both tools set).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agsekit.snapshots.engine.tree import FILE, LINK
from agsekit.snapshots.engine.walk import walk_snapshot
from agsekit.snapshots.history import diff
from agsekit.snapshots.history.diff import Side
from agsekit.snapshots.history.patch import (
    PatchSide,
    carries_content,
    format_patch,
    split_lines,
)
from tests.history.apply_tools import (
    Files,
    Item,
    assert_applies,
    build,
    git_apply,
    gnu_patch,
    read_back,
)

Renames = dict[bytes, bytes]  # new path -> old path
Case = tuple[Files, Files, Renames]


def text(data: bytes, mode: int = 0o644) -> Item:
    return Item(FILE, mode, data)


def link(target: bytes) -> Item:
    return Item(LINK, 0, target)


def side(path: bytes, item: Item | None) -> PatchSide | None:
    return None if item is None else PatchSide(path, item.kind, item.mode, item.data)


def patch_between(a: Files, b: Files, renames: Renames | None = None) -> bytes:
    """The patch of every change from a to b, in path order as git prints them."""
    renames = renames or {}
    moved = set(renames.values())
    out = []
    for path in sorted(a.keys() | b.keys()):
        if path in renames:
            out.append(format_patch(side(renames[path], a[renames[path]]), side(path, b[path])))
        elif not (path in moved and path not in b):
            out.append(format_patch(side(path, a.get(path)), side(path, b.get(path))))
    return b"".join(out)


def check(tmp_path: Path, case: Case) -> bytes:
    a, b, renames = case
    patch = patch_between(a, b, renames)
    if not patch:  # nothing to apply (git apply refuses empty input)
        assert a == b
        return patch
    assert_applies(build(tmp_path / "A", a), tmp_path / "work", patch, b)
    return patch


# ----- named cases ------------------------------------------------------------------------

NUMBERED = b"".join(b" %d\n" % i for i in range(1, 31))
ODD_BYTES = b"a\rb\x0bc\x0cd\x1ce\x1df\x1eg\x85h\xc2\x85i\xe2\x80\xa8j\xe2\x80\xa9k\r\n"


def _numbered_edit(*lines: int) -> bytes:
    return b"".join(b" %d\n" % i if i not in lines else b" %d edited\n" % i for i in range(1, 31))


CASES: dict[str, Case] = {
    "modify": ({b"f.txt": text(b"one\ntwo\nthree\n")}, {b"f.txt": text(b"one\n2\nthree\n")}, {}),
    "add": ({}, {b"new.txt": text(b"a\nb\n")}, {}),
    "add in new folders": ({}, {b"x y/z\tw/new.txt": text(b"a\n")}, {}),
    "delete": ({b"gone.txt": text(b"a\nb\n"), b"kept": text(b"k\n")}, {b"kept": text(b"k\n")}, {}),
    "delete the last file of a folder": ({b"d/only": text(b"x\n")}, {}, {}),
    "pure rename": (
        {b"old name": text(b"same\n")},
        {b"new name": text(b"same\n")},
        {b"new name": b"old name"},
    ),
    "rename into another folder": (
        {b"a/file": text(b"x\n", 0o755)},
        {b"b c/file": text(b"x\n", 0o755)},
        {b"b c/file": b"a/file"},
    ),
    "rename and mode change": (
        {b"run": text(b"#!/bin/sh\n")},
        {b"run.sh": text(b"#!/bin/sh\n", 0o755)},
        {b"run.sh": b"run"},
    ),
    "rename and edit": (
        {b"before": text(NUMBERED)},
        {b"after": text(_numbered_edit(4))},
        {b"after": b"before"},
    ),
    "mode only, made executable": ({b"x": text(b"a\n")}, {b"x": text(b"a\n", 0o755)}, {}),
    "mode only, no longer executable": ({b"x": text(b"a\n", 0o755)}, {b"x": text(b"a\n")}, {}),
    "modify and mode change": ({b"x": text(b"a\n")}, {b"x": text(b"b\n", 0o755)}, {}),
    "symlink added": ({}, {b"ln": link(b"target file")}, {}),
    "symlink changed": ({b"ln": link(b"one")}, {b"ln": link(b"../two")}, {}),
    "symlink deleted": ({b"ln": link(b"/abs/path")}, {}, {}),
    "symlink renamed": ({b"ln": link(b"t")}, {b"ln2": link(b"t")}, {b"ln2": b"ln"}),
    "file becomes a symlink": ({b"p": text(b"content\n")}, {b"p": link(b"elsewhere")}, {}),
    "symlink becomes a file": ({b"p": link(b"elsewhere")}, {b"p": text(b"content\n")}, {}),
    "empty file added": ({}, {b"empty": text(b"")}, {}),
    "empty file deleted": ({b"empty": text(b"")}, {}, {}),
    "empty file added, executable": ({}, {b"empty": text(b"", 0o755)}, {}),
    "empty file gets text": ({b"e": text(b"")}, {b"e": text(b"now\n")}, {}),
    "text file emptied": ({b"e": text(b"was\nhere\n")}, {b"e": text(b"")}, {}),
    "crlf edit": ({b"w": text(b"a\r\nb\r\nc\r\n")}, {b"w": text(b"a\r\nB\r\nc\r\n")}, {}),
    "crlf to lf": ({b"w": text(b"a\r\nb\r\n")}, {b"w": text(b"a\nb\n")}, {}),
    "final newline added": ({b"n": text(b"a\nb")}, {b"n": text(b"a\nb\n")}, {}),
    "final newline dropped": ({b"n": text(b"a\nb\n")}, {b"n": text(b"a\nb")}, {}),
    "no final newline, either side": ({b"n": text(b"a\nb\nc")}, {b"n": text(b"A\nb\nc")}, {}),
    "only a lone cr": ({b"n": text(b"\r")}, {b"n": text(b"\r\n\r")}, {}),
    "line breaks that are not newlines": (
        {b"odd": text(ODD_BYTES * 3)},
        {b"odd": text(ODD_BYTES + b"middle\x0c\n" + ODD_BYTES * 2)},
        {},
    ),
    "two hunks far apart": ({b"n": text(NUMBERED)}, {b"n": text(_numbered_edit(3, 25))}, {}),
    "changes 6 lines apart share a hunk": (
        {b"n": text(NUMBERED)},
        {b"n": text(_numbered_edit(10, 17))},
        {},
    ),
    "changes 7 lines apart get two hunks": (
        {b"n": text(NUMBERED)},
        {b"n": text(_numbered_edit(10, 18))},
        {},
    ),
    "lines that look like a diff": (
        {b"d": text(b"-- a/x\n++ b/x\n@ -1 +1 @@\n\\ No newline at end of file\n")},
        {b"d": text(b"diff --git a/d b/d\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n")},
        {},
    ),
    "a very long line": ({b"l": text(b"x" * 200_000 + b"\n")}, {b"l": text(b"y" * 3 + b"\n")}, {}),
    "not utf-8 text": ({b"l": text(b"caf\xe9\n\xff\xfe\n")}, {b"l": text(b"caf\xe9!\n")}, {}),
}

NAMES = {
    "space": b"my notes.txt",
    "tab": b"tab\there",
    "double quote": b'say "hi"',
    "single quote": b"it's",
    "backslash": b"back\\slash",
    "unicode": "caf\u00e9 \u65e5\u672c".encode(),
    "not utf-8": b"caf\xe9",
    "newline": b"two\nlines",
    "control and DEL": b"bell\x07del\x7fone\x01",
    "leading dash": b"-rf",
    "leading and trailing space": b" both ",
    "folder with a space": b"my dir/file",
}


@pytest.mark.parametrize("name", CASES)
def test_case_applies(tmp_path: Path, name: str) -> None:
    check(tmp_path, CASES[name])


@pytest.mark.parametrize("label", NAMES)
def test_unusual_names_apply(tmp_path: Path, label: str) -> None:
    name = NAMES[label]
    case: Case = (
        {name: text(b"a\nb\n"), name + b" gone": text(b"x\n"), name + b" mode": text(b"m\n")},
        {
            name: text(b"a\nB\n"),
            name + b" new": text(b"n\n"),
            name + b" empty": text(b""),
            name + b" mode": text(b"m\n", 0o755),
            name + b" link": link(name),
        },
        {},
    )
    check(tmp_path, case)
    renamed: Case = ({name: text(b"r\n")}, {name + b" 2": text(b"r\n")}, {name + b" 2": name})
    check(tmp_path / "renamed", renamed)


# ----- git's own output -------------------------------------------------------------------

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


def _git(repo: Path, *args: str) -> bytes:
    env = {"PATH": os.environ["PATH"], "HOME": str(repo.parent), **GIT_ENV}
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def git_diff(repo: Path, a: Files, b: Files, renames: bool = True) -> bytes:
    """What `git diff` prints from a to b (function names after @@ dropped)."""
    build(repo, a)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "A")
    for entry in os.listdir(repo):
        if entry != ".git":
            full = repo / entry
            shutil.rmtree(full) if full.is_dir() and not full.is_symlink() else full.unlink()
    build(repo, b)
    _git(repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", ".")
    _git(repo, "add", "-A")
    find = "-M" if renames else "--no-renames"
    out = _git(repo, "-c", "core.quotePath=true", "diff", "--cached", find, "--no-color")
    return re.sub(rb"(?m)^(@@ [^@]* @@).*$", rb"\1", out)


def assert_git_bytes(ours: bytes, theirs: bytes) -> None:
    """ours is git's output byte for byte, but for the quotes format_patch adds around names
    git leaves bare for GNU patch's sake: on diff --git lines around names holding a space,
    on ---/+++ lines around names ending with one."""
    mine, git = ours.split(b"\n"), theirs.split(b"\n")
    assert len(mine) == len(git), (ours, theirs)
    for line, git_line in zip(mine, git, strict=True):
        if line != git_line:
            assert line.startswith((b"diff --git ", b"--- ", b"+++ ")), (line, git_line)
            assert line.replace(b'"', b"") == git_line.replace(b'"', b""), (line, git_line)


# difflib may choose other hunks than git's Myers diff; git finds no renames of symlinks
GIT_SAME = [n for n in CASES if n not in {"line breaks that are not newlines", "symlink renamed"}]


@pytest.mark.parametrize("name", GIT_SAME)
def test_same_bytes_as_git(tmp_path: Path, name: str) -> None:
    a, b, renames = CASES[name]
    assert_git_bytes(patch_between(a, b, renames), git_diff(tmp_path / "repo", a, b))


def test_symlink_rename_is_a_deletion_and_an_addition(tmp_path: Path) -> None:
    """GNU patch refuses to rename a symlink ("not a regular file"); a deletion and an
    addition is what git prints without rename detection."""
    a, b, renames = CASES["symlink renamed"]
    ours = patch_between(a, b, renames)
    assert ours == git_diff(tmp_path / "repo", a, b, renames=False)
    assert ours.count(b"diff --git") == 2


@pytest.mark.parametrize("label", NAMES)
def test_names_quoted_as_git_quotes_them(tmp_path: Path, label: str) -> None:
    name = NAMES[label]
    a = {name: text(b"a\n"), b"gone " + name: text(b"g\n"), b"old": text(b"o\n")}
    b = {name: text(b"b\n", 0o755), b"new " + name: text(b"n\n"), name + b"2": text(b"o\n")}
    ours = patch_between(a, b, {name + b"2": b"old"})
    assert_git_bytes(ours, git_diff(tmp_path / "repo", a, b))


def test_quotes_added_for_gnu_patch() -> None:
    added = format_patch(None, PatchSide(b"my file ", FILE, 0o644, b"x\n"))
    assert added.startswith(
        b'diff --git "a/my file " "b/my file "\nnew file mode 100644\n'
        b'index 0000000..587be6b\n--- /dev/null\n+++ "b/my file "\t\n@@ -0,0 +1 @@\n+x\n'
    )
    moved = format_patch(
        PatchSide(b"plain", FILE, 0o644, b"x\n"), PatchSide(b"with space", FILE, 0o644, b"x\n")
    )
    assert moved == (
        b'diff --git a/plain "b/with space"\nsimilarity index 100%\n'
        b"rename from plain\nrename to with space\n"
    )


def test_rename_and_edit_is_a_rename_with_a_hunk() -> None:
    a, b, renames = CASES["rename and edit"]
    patch = patch_between(a, b, renames)
    assert patch.startswith(
        b"diff --git a/before b/after\nsimilarity index 91%\n"
        b"rename from before\nrename to after\nindex "
    )
    assert b"--- a/before\n+++ b/after\n@@ -1,7 +1,7 @@\n" in patch


def test_file_and_folder_swapping_places_applies_with_git_apply(tmp_path: Path) -> None:
    """A file that becomes a folder (and the reverse): git apply does it; GNU patch 2.7.6
    cannot in one run (it removes files only after it has written the others)."""
    a = {b"f": text(b"file\n"), b"d/x": text(b"x\n")}
    b = {b"f/y": text(b"y\n"), b"d": text(b"now a file\n")}
    patch = patch_between(a, b)
    applied = git_apply(build(tmp_path / "A", a), tmp_path / "git", patch)
    assert applied.returncode == 0, applied.stderr
    assert read_back(tmp_path / "git") == b


# ----- notes instead of content -----------------------------------------------------------


def test_binary_content_is_named_not_shown(tmp_path: Path) -> None:
    """Neither tool can rebuild binary content from git's note: git apply refuses the whole
    patch; GNU patch (2.7.6) applies the rest and leaves the binary file as it was."""
    a = {b"bin": text(b"\x89PNG\0\0one"), b"t": text(b"a\n")}
    b = {b"bin": text(b"\x89PNG\0\0two"), b"t": text(b"b\n"), b"new.bin": text(b"\0")}
    patch = patch_between(a, b)
    assert b"index d4dfca4..ed3e4ac 100644\nBinary files a/bin and b/bin differ\n" in patch
    assert b"new file mode 100644\nindex 0000000..f76dd23\n" in patch
    assert b"Binary files /dev/null and b/new.bin differ\n" in patch
    assert patch == git_diff(tmp_path / "repo", a, b)
    original = build(tmp_path / "A", a)
    refused = git_apply(original, tmp_path / "git", patch)
    assert refused.returncode != 0
    assert b"cannot apply binary patch to 'bin' without full index line" in refused.stderr
    assert (tmp_path / "git" / "t").read_bytes() == b"a\n"  # nothing applied
    gnu_patch(original, tmp_path / "gnu", patch)
    assert (tmp_path / "gnu" / "bin").read_bytes() == b"\x89PNG\0\0one"
    assert (tmp_path / "gnu" / "t").read_bytes() == b"b\n"


def test_carries_content_is_false_for_notes() -> None:
    binary = PatchSide(b"b", FILE, 0o644, b"\0")
    unknown = PatchSide(b"u", FILE, 0o644, None, digest="d")
    plain = PatchSide(b"p", FILE, 0o644, b"text\n")
    assert not carries_content(None, binary)
    assert not carries_content(binary, PatchSide(b"b", FILE, 0o644, b"\0\0"))
    assert not carries_content(unknown, None)
    assert not carries_content(plain, PatchSide(b"p", FILE, 0o644, None))
    assert carries_content(binary, PatchSide(b"b2", FILE, 0o755, b"\0"))  # rename, mode
    assert carries_content(unknown, PatchSide(b"u2", FILE, 0o644, None, digest="d"))
    assert carries_content(plain, None) and carries_content(None, PatchSide(b"e", FILE))


def test_pure_rename_and_mode_change_of_binary_apply(tmp_path: Path) -> None:
    a = {b"x.bin": text(b"\0\1\2"), b"y.bin": text(b"\0")}
    b = {b"z.bin": text(b"\0\1\2"), b"y.bin": text(b"\0", 0o755)}
    patch = check(tmp_path, (a, b, {b"z.bin": b"x.bin"}))
    assert b"Binary" not in patch


def test_unknown_content_gets_a_note() -> None:
    old = PatchSide(b"big file", FILE, 0o644, None)
    new = PatchSide(b"big file", FILE, 0o644, b"small now\n")
    assert format_patch(old, new) == (
        b'diff --git "a/big file" "b/big file"\nFiles a/big file and b/big file differ\n'
    )
    assert format_patch(None, old) == (
        b'diff --git "a/big file" "b/big file"\nnew file mode 100644\n'
        b"Files /dev/null and b/big file differ\n"
    )


def test_unknown_content_with_equal_digests_is_unchanged(tmp_path: Path) -> None:
    old = PatchSide(b"big", FILE, 0o644, None, digest="d1")
    moved = PatchSide(b"moved", FILE, 0o755, None, digest="d1")
    assert format_patch(old, moved) == (
        b"diff --git a/big b/moved\nold mode 100644\nnew mode 100755\n"
        b"similarity index 100%\nrename from big\nrename to moved\n"
    )
    other = PatchSide(b"big", FILE, 0o644, None, digest="d2")
    assert b"Files a/big and b/big differ" in format_patch(old, other)
    assert format_patch(old, PatchSide(b"big", FILE, 0o600, None, digest="d1")) == b""


def test_nothing_git_can_show_gives_nothing() -> None:
    same = PatchSide(b"f", FILE, 0o644, b"x\n")
    assert format_patch(same, PatchSide(b"f", FILE, 0o600, b"x\n")) == b""
    with pytest.raises(ValueError, match="at least one side"):
        format_patch(None, None)
    with pytest.raises(ValueError, match="files and symlinks only"):
        format_patch(None, PatchSide(b"d", "d", 0o755, b""))


def test_split_lines_ends_lines_at_newline_only() -> None:
    assert split_lines(b"") == []
    assert split_lines(b"a\rb\x0bc\x85\n\r\nlast") == [b"a\rb\x0bc\x85\n", b"\r\n", b"last"]
    assert split_lines(b"\n\n") == [b"\n", b"\n"]


# ----- random trees -----------------------------------------------------------------------

LINE_ATOMS = [
    *(b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x85", b"\xc2\x85"),
    *("\u2028".encode(), "\u2029".encode(), b" ", b"\t", b"\\", b"-", b"+", b"@@ -1 +1 @@"),
    *(b"--- a/x", b"+++ b/x", b"\\ No newline at end of file", b"diff --git a/x b/x"),
    *(b"word", b"caf\xe9", b"\xff", b"\x7f", b"\x01"),
]
COMMON_LINES = [b"\n", b"\r\n", b"}\n", b"    return None\n", b"\x0c\n", b"-\n", b"+\n", b" \n"]
NAME_ATOMS = [
    *(b"plain", b"a b", b" ", b"\t", b'"', b"'", b"\\", "\u00e9".encode(), "\u65e5".encode()),
    *(b"-", b"--x", b"caf\xe9", b"\n", b"\x01", b"\x7f", b"#", b"$x", b"*", b"~", b"%", b"@"),
]
FOLDERS = [b"sub.d", b"with space.d", "\u00fc.d".encode(), b'q"uote.d', b"-dash.d", b"sub.d/x.d"]
TARGETS = [b"plain", b"../up/there", b"/abs/path", b"with space", b"sub.d/plain", b"caf\xe9"]


def random_bytes(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size).replace(b"\n", b"\r").replace(b"\0", b"\x85")


def random_line(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(COMMON_LINES)
    if roll < 0.32:
        return random_bytes(rng, rng.randrange(5_000, 60_000)) + b"\n"
    parts = rng.choices([*LINE_ATOMS, random_bytes(rng, 3)], k=rng.randrange(0, 7))
    return b"".join(parts) + (b"\r\n" if rng.random() < 0.3 else b"\n")


def random_text(rng: random.Random) -> bytes:
    if rng.random() < 0.08:
        return b""
    data = b"".join(random_line(rng) for _ in range(rng.randrange(0, 30)))
    if rng.random() < 0.3:
        data += random_line(rng).rstrip(b"\n") or b"tail"
    return data


def mutate(rng: random.Random, data: bytes) -> bytes:
    if rng.random() < 0.1:
        return random_text(rng)
    lines = split_lines(data)
    for _ in range(rng.randrange(1, 5)):
        at = rng.randrange(len(lines) + 1)
        span = rng.randrange(1, 4)
        choice = rng.random()
        if choice < 0.4:
            lines[at:at] = [random_line(rng) for _ in range(span)]
        elif choice < 0.7:
            del lines[at : at + span]
        else:
            lines[at : at + span] = [random_line(rng) for _ in range(rng.randrange(1, 4))]
    out = b"".join(lines)
    if out and rng.random() < 0.2:
        out = out[:-1] if out.endswith(b"\n") else out + b"\n"
    if rng.random() < 0.1:
        out = re.sub(rb"(?<!\r)\n", b"\r\n", out)
    return out


def random_name(rng: random.Random, taken: set[bytes]) -> bytes:
    while True:
        name = b"".join(rng.choices(NAME_ATOMS, k=rng.randrange(1, 4)))
        if rng.random() < 0.3:
            name = rng.choice(FOLDERS) + b"/" + name
        if name not in taken:
            taken.add(name)
            return name


def random_item(rng: random.Random, kind: str | None = None) -> Item:
    if (kind or (LINK if rng.random() < 0.15 else FILE)) == LINK:
        return link(rng.choice(TARGETS) + b"".join(rng.choices(NAME_ATOMS, k=rng.randrange(3))))
    return text(random_text(rng), rng.choice([0o644, 0o755]))


def changed(rng: random.Random, item: Item) -> Item:
    if item.kind == LINK:
        return random_item(rng, LINK)
    return item._replace(data=mutate(rng, item.data))


ACTIONS = {"keep": 3, "edit": 6, "mode": 1, "edit+mode": 1, "delete": 1, "rename": 1}
ACTIONS |= {"rename+edit": 1, "retype": 1}


def acted(rng: random.Random, action: str, item: Item) -> Item:
    if action == "retype":
        return random_item(rng, FILE if item.kind == LINK else LINK)
    if "edit" in action:
        item = changed(rng, item)
    if "mode" in action and item.kind == FILE:
        item = item._replace(mode=item.mode ^ 0o111)
    return item


def random_case(seed: int) -> Case:
    """A random tree A, and B made from it by random edits, renames, deletions, additions."""
    rng = random.Random(seed)
    taken: set[bytes] = set()
    a = {random_name(rng, taken): random_item(rng) for _ in range(rng.randrange(1, 10))}
    b: Files = {}
    renames: Renames = {}
    for path, item in a.items():
        action = rng.choices(list(ACTIONS), list(ACTIONS.values()))[0]
        if action == "delete":
            continue
        new_path = random_name(rng, taken) if action.startswith("rename") else path
        if new_path != path:
            renames[new_path] = path
        b[new_path] = acted(rng, action, item)
    for _ in range(rng.randrange(0, 4)):
        b[random_name(rng, taken)] = random_item(rng)
    return a, b, renames


@pytest.mark.parametrize("seed", range(150))
def test_random_trees_apply(tmp_path: Path, seed: int) -> None:
    check(tmp_path, random_case(seed))


# ----- history/diff.py: the patch of one entry of a diff ----------------------------------


def diff_side(root: Path) -> Side:
    base = os.fsencode(root)
    return Side(walk_snapshot(base), base)


def test_entry_patches_of_large_files_and_type_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files over PATCH_LIMIT are not read for a hunk; their digests still let a rename or
    a mode change apply."""
    monkeypatch.setattr(diff, "PATCH_LIMIT", 16)
    big = b"x" * 100 + b"\n"
    a = {b"moved": text(big), b"remoded": text(big), b"rewritten": text(big)}
    a |= {b"small": text(b"s\n"), b"d/x": text(b"x\n"), b"f": text(b"file\n")}
    b = {b"moved 2": text(big), b"remoded": text(big, 0o755), b"rewritten": text(b"y" * 101)}
    b |= {b"small": text(b"t\n"), b"d": text(b"now a file\n"), b"f/y": text(b"y\n")}
    old, new = diff_side(build(tmp_path / "A", a)), diff_side(build(tmp_path / "B", b))
    os.utime(tmp_path / "B" / "rewritten", ns=(1, 1))
    patches = {(e.status, e.path): diff.patch(old, new, e) for e in diff.diff_trees(old, new)}
    assert patches[("R", b"moved 2")] == (
        b'diff --git a/moved "b/moved 2"\nsimilarity index 100%\n'
        b"rename from moved\nrename to moved 2\n",
        True,
    )
    assert patches[("M", b"remoded")] == (
        b"diff --git a/remoded b/remoded\nold mode 100644\nnew mode 100755\n",
        True,
    )
    assert patches[("M", b"rewritten")] == (
        b"diff --git a/rewritten b/rewritten\nFiles a/rewritten and b/rewritten differ\n",
        False,
    )
    assert patches[("M", b"small")].data.endswith(b"@@ -1 +1 @@\n-s\n+t\n")
    assert patches[("M", b"d")].data.startswith(b"diff --git a/d b/d\nnew file mode 100644\n")
    assert patches[("M", b"f")].data.startswith(b"diff --git a/f b/f\ndeleted file mode 100644\n")
    assert patches[("A", b"f/y")].data.startswith(b"diff --git a/f/y b/f/y\nnew file mode")
