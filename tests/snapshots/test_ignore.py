""".backupignore and --exclude rules: what a walker on real directories keeps."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from agsekit.snapshots.ignore.rules import IgnoreRules
from tests.snapshots.ignore_walk import kept_files, make_tree


def snapshot_of(
    tmp_path: Path,
    files: Sequence[bytes],
    ignore_files: dict[bytes, bytes],
    excludes: Sequence[str] = (),
) -> set[bytes]:
    root = os.fsencode(tmp_path)
    make_tree(root, files, ignore_files)
    return kept_files(root, excludes)


def lines(*patterns: str) -> bytes:
    return ("\n".join(patterns) + "\n").encode()


# The worked table of shared/reference/backups.md: (ignore file lines, kept, not kept).
WORKED_TABLE = [
    (
        ["venv/", "*.log", "!logs/important.log"],
        [b"logs/important.log", b"venv"],
        [b"sub/logs/important.log", b"sub/b.log", b"sub/venv/x"],
    ),
    (["logs/", "!logs/important.log"], [], [b"logs/important.log", b"logs/other"]),
    (["logs/*", "!logs/important.log"], [b"logs/important.log"], [b"logs/other.log"]),
    (["!important.log", "*.log"], [], [b"important.log"]),
    (["doc/frotz"], [b"a/doc/frotz"], [b"doc/frotz"]),
    (["a/**/b"], [b"c/a/b"], [b"a/b", b"a/x/b", b"a/x/y/b"]),
    (["*", "!*/", "!*.py"], [b"x.py", b"a/b/c.py"], [b"x.txt", b"a/b/c.txt", b".backupignore"]),
    (["*.tmp   "], [], [b"a.tmp"]),
]


@pytest.mark.parametrize(("patterns", "kept", "dropped"), WORKED_TABLE)
def test_worked_table_of_the_reference(
    tmp_path: Path, patterns: list[str], kept: list[bytes], dropped: list[bytes]
) -> None:
    result = snapshot_of(tmp_path, kept + dropped, {b".backupignore": lines(*patterns)})
    assert set(kept) <= result
    assert not set(dropped) & result


def test_readme_example_reads_as_a_user_expects(tmp_path: Path) -> None:
    readme_example = (
        "# исключить виртуальные окружения и зависимости\n"
        "venv/\nnode_modules/\n\n"
        "# игнорировать временные и лог-файлы по маске\n"
        "*.log\n*.tmp\n\n"
        "# вернуть в бэкап конкретный файл внутри исключённой папки\n"
        "!logs/important.log\n\n"
        "# пропустить артефакты сборки документации\n"
        "docs/build/\n"
    ).encode()
    result = snapshot_of(
        tmp_path,
        [
            b"logs/important.log",
            b"logs/debug.log",
            b"app.log",
            b"src/server.log",
            b"src/main.py",
            b"src/cache.tmp",
            b"venv/bin/python",
            b"web/node_modules/react/index.js",
            b"docs/build/index.html",
            b"docs/index.md",
            b"src/docs/build/kept.html",
        ],
        {b".backupignore": readme_example},
    )
    assert result == {
        b".backupignore",
        b"logs/important.log",
        b"src/main.py",
        b"docs/index.md",
        b"src/docs/build/kept.html",  # `docs/build/` has an inner slash: anchored at the root
    }


def test_escapes_comments_and_trailing_spaces(tmp_path: Path) -> None:
    content = b"#a\n\\#b\n\\!c\nd\\ \ne \\ \n  f\n"
    files = [b"#a", b"#b", b"!c", b"d ", b"d", b"e  ", b"e ", b"  f", b"f"]
    result = snapshot_of(tmp_path, files, {b".backupignore": content})
    assert result == {b".backupignore", b"#a", b"d", b"e ", b"f"}


def test_crlf_and_byte_order_mark_are_read_as_git_reads_them(tmp_path: Path) -> None:
    content = b"\xef\xbb\xbf*.log\r\n!keep.log\r\n*.tmp\t\r\n"
    result = snapshot_of(tmp_path, [b"a.log", b"keep.log", b"a.tmp"], {b".backupignore": content})
    assert result == {b".backupignore", b"keep.log", b"a.tmp"}  # a tab is not a space


def test_deeper_ignore_file_wins_and_anchors_to_its_own_directory(tmp_path: Path) -> None:
    result = snapshot_of(
        tmp_path,
        [b"a.log", b"sub/a.log", b"sub/only", b"sub/deeper/only", b"only"],
        {b".backupignore": lines("*.log"), b"sub/.backupignore": lines("!*.log", "/only")},
    )
    assert result == {
        b".backupignore",
        b"sub/.backupignore",
        b"sub/a.log",
        b"sub/deeper/only",
        b"only",
    }


def test_exclude_patterns_take_precedence_over_ignore_files(tmp_path: Path) -> None:
    files = [b"a.log", b"b.log", b"sub/a.log", b"sub/b.log"]
    ignore_files = {b".backupignore": lines("!a.log"), b"sub/.backupignore": lines("*.log")}
    result = snapshot_of(tmp_path, files, ignore_files, excludes=["*.log", "!b.log"])
    assert result == {b".backupignore", b"sub/.backupignore", b"b.log", b"sub/b.log"}


def test_exclude_patterns_are_anchored_at_the_root_and_taken_whole(tmp_path: Path) -> None:
    files = [b"build/out", b"sub/build/out", b"#x", b"a.tmp"]
    result = snapshot_of(tmp_path, files, {}, excludes=["build/out", "#x", "*.tmp "])
    assert result == {b"sub/build/out", b"a.tmp"}


def test_directory_patterns_skip_files_of_that_name(tmp_path: Path) -> None:
    files = [b"cache", b"sub/cache/x", b"build/x", b"sub/build"]
    result = snapshot_of(tmp_path, files, {b".backupignore": lines("cache/", "build/")})
    assert result == {b".backupignore", b"cache", b"sub/build"}


def test_a_file_in_an_excluded_directory_cannot_be_re_included(tmp_path: Path) -> None:
    files = [b"dir/keep", b"dir/other", b"star/keep", b"star/other"]
    ignore = lines("dir/", "!dir/keep", "star/*", "!star/keep")
    result = snapshot_of(tmp_path, files, {b".backupignore": ignore})
    assert result == {b".backupignore", b"star/keep"}


def test_double_star_forms(tmp_path: Path) -> None:
    files = [
        b"foo/keep",
        b"foo/x",
        b"foo/d/y",
        b"top/a.txt",
        b"top/sub/b.txt",
        b"m/n/deep.log",
        b"deep.log",
    ]
    ignore = lines("foo/**", "!foo/keep", "top/**/", "**/n/*.log")
    result = snapshot_of(tmp_path, files, {b".backupignore": ignore})
    assert result == {b".backupignore", b"foo/keep", b"top/a.txt", b"deep.log"}


def test_character_classes(tmp_path: Path) -> None:
    files = [b"a1", b"b2", b"c3", b"]x", b"zb", b"ab", b"7y", b"qy", b"-z", b"kz"]
    ignore = lines("[ab][0-9]", "[!a-b]3", "[\\]]x", "[z-a]b", "[[:digit:]]y", "[a-]z")
    result = snapshot_of(tmp_path, files, {b".backupignore": ignore})
    assert result == {b".backupignore", b"ab", b"qy", b"kz"}


def test_names_that_are_not_utf8_are_matched_byte_for_byte(tmp_path: Path) -> None:
    files = [b"caf\xe9.log", b"caf\xe9.txt", b"caf\xc3\xa9.txt", b"raw\xff"]
    ignore = b"*.log\ncaf?.txt\nraw\xff\n"
    result = snapshot_of(tmp_path, files, {b".backupignore": ignore})
    assert result == {b".backupignore", b"caf\xc3\xa9.txt"}  # `?` is one byte, as in git


def test_rules_without_patterns_are_empty() -> None:
    assert IgnoreRules.root((), None).empty
    assert IgnoreRules.root((), b"# only a comment\n\n   \n").empty
    assert not IgnoreRules.root(("x",), None).empty
    assert not IgnoreRules.root((), b"x\n").child(b"sub", None).empty
    assert not IgnoreRules.root((), None).excluded(b"anything", is_dir=True)


def test_fingerprint_follows_the_exclude_patterns() -> None:
    first = IgnoreRules.root(("*.log",), None).fingerprint()
    assert first == IgnoreRules.root(("*.log",), b"other\n").fingerprint()
    assert first != IgnoreRules.root(("*.tmp",), None).fingerprint()
