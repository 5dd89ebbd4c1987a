""".backupignore and --exclude rules: what a walker on real directories keeps."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from agsekit.snapshots.ignore.files import (
    MAX_FILE_BYTES,
    MAX_FILES_IN_FORCE,
    MAX_LINE_BYTES,
    MAX_LINES_IN_FORCE,
    MAX_LINES_PER_WALK,
    MAX_PATTERN_LINES,
    parse_ignore_file,
)
from agsekit.snapshots.ignore.patterns import Rule
from agsekit.snapshots.ignore.rules import IgnoreRules
from tests.snapshots.ignore_walk import kept_files, make_tree, walk


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


def test_fingerprint_follows_the_host_side_patterns() -> None:
    first = IgnoreRules.root(("*.log",), None).fingerprint()
    assert first == IgnoreRules.root(("*.log",), b"other\n").fingerprint()
    assert first == hashlib.sha256(b"*.log").hexdigest()  # as recorded before host lists
    assert first != IgnoreRules.root(("*.tmp",), None).fingerprint()
    configured = IgnoreRules.root(("*.log",), None, host_patterns=[("config", ["x"])])
    assert configured.fingerprint() != first


def test_explain_names_the_file_its_line_and_the_pattern() -> None:
    content = b"# build output\n\n*.log\n!keep.log\nbuild/   \n"
    rules = IgnoreRules.root((), content)
    assert rules.explain(b"a.log", is_dir=False) == Rule(".backupignore", 3, b"*.log")
    assert rules.explain(b"build", is_dir=True) == Rule(".backupignore", 5, b"build/")
    assert rules.explain(b"build", is_dir=False) is None  # a file named build is kept
    assert rules.explain(b"keep.log", is_dir=False) is None
    assert rules.deciding_rule(b"keep.log", False) == Rule(".backupignore", 4, b"!keep.log")
    assert rules.deciding_rule(b"other", is_dir=False) is None
    assert Rule(".backupignore", 3, b"*.log").describe() == "`*.log` (.backupignore line 3)"


def test_explain_below_the_root_names_the_deciding_file() -> None:
    root = IgnoreRules.root((), b"*.tmp\n/docs/build/\nsrc/**/gen\ndocs/*.md[~]\n")
    docs = root.child(b"docs", b"*.md\n", "docs/.backupignore")
    assert docs.explain(b"x.md", False) == Rule("docs/.backupignore", 1, b"*.md")
    assert docs.explain(b"x.tmp", False) == Rule(".backupignore", 1, b"*.tmp")
    assert docs.explain(b"build", True) == Rule(".backupignore", 2, b"/docs/build/")
    assert docs.explain(b"x.md~", False) == Rule(".backupignore", 4, b"docs/*.md[~]")
    deep = root.child(b"src", None).child(b"a", None)
    assert deep.explain(b"gen", False) == Rule(".backupignore", 3, b"src/**/gen")
    unnamed = root.child(b"sub", b"x\n")
    assert unnamed.explain(b"x", False) == Rule("sub/.backupignore", 1, b"x")


def test_host_pattern_lists_are_one_list_ranked_above_ignore_files() -> None:
    configured = ("mounts[0].exclude", ["*.log", "tmp/", "build/out"])
    rules = IgnoreRules.root(["!keep.log"], b"!*.log\n", host_patterns=[configured])
    assert rules.excluded(b"a.log", is_dir=False)  # over the .backupignore's `!*.log`
    assert not rules.excluded(b"keep.log", is_dir=False)  # --exclude comes last and wins
    assert rules.explain(b"a.log", False) == Rule("mounts[0].exclude", 1, b"*.log")
    assert rules.deciding_rule(b"keep.log", False) == Rule("--exclude", 1, b"!keep.log")
    assert rules.explain(b"tmp", is_dir=True) == Rule("mounts[0].exclude", 2, b"tmp/")
    assert rules.child(b"build", None).excluded(b"out", is_dir=False)
    assert not rules.child(b"sub", None).child(b"build", None).excluded(b"out", False)


def test_tree_files_need_not_be_consulted(tmp_path: Path) -> None:
    make_tree(os.fsencode(tmp_path), [b"a.log", b"sub/b.log", b"sub/c"], {})
    rules = IgnoreRules.root(["*.log"], None, host_patterns=[("config", ["/sub/c"])])
    sub = rules.child(b"sub", None)
    assert rules.excluded(b"a.log", False)
    assert sub.excluded(b"b.log", False)
    assert sub.excluded(b"c", False)
    assert not sub.excluded(b".backupignore", False)


def numbered(count: int, form: bytes = b"f%d") -> bytes:
    return b"".join(form % i + b"\n" for i in range(count))


def test_an_ignore_file_at_the_caps_is_applied() -> None:
    comments = b"# comment\n\n" * 1000  # neither comments nor blank lines count
    lines = comments + numbered(MAX_PATTERN_LINES - 1) + b"x" * MAX_LINE_BYTES + b"\n"
    parsed = parse_ignore_file(lines, "sub/.backupignore")
    assert parsed.problem is None
    assert parsed.pattern_lines == MAX_PATTERN_LINES
    assert IgnoreRules.root((), parsed).excluded(b"f7", is_dir=False)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (numbered(MAX_PATTERN_LINES - 1), "it has 1001 pattern lines, over the limit of 1000"),
        (b"#" * MAX_FILE_BYTES, f"it is larger than the limit of {MAX_FILE_BYTES} bytes"),
        (b"x" * (MAX_LINE_BYTES + 1), "line 3 is 4097 bytes long, over the limit of 4096"),
    ],
)
def test_an_ignore_file_over_a_cap_is_not_applied_at_all(content: bytes, reason: str) -> None:
    content = b"*\n!keep\n" + content
    parsed = parse_ignore_file(content, "sub/.backupignore")
    assert parsed.patterns is None
    assert parsed.problem is not None
    assert parsed.problem.startswith("sub/.backupignore is not applied: ")
    assert reason in parsed.problem
    problems: list[str] = []
    rules = IgnoreRules.root((), None).child(b"sub", content, "sub/.backupignore", problems)
    assert problems == [parsed.problem]
    assert not rules.excluded(b"anything", is_dir=False)


def test_a_walk_reports_the_files_it_does_not_apply(tmp_path: Path) -> None:
    root = os.fsencode(tmp_path)
    big = b"*\n" + numbered(MAX_PATTERN_LINES)
    make_tree(root, [b"a", b"sub/b"], {b"sub/.backupignore": big, b".backupignore": b"a\n"})
    walked = walk(root)
    assert walked.kept == {b".backupignore", b"sub/.backupignore", b"sub/b"}
    assert len(walked.problems) == 1
    assert walked.problems[0].startswith("sub/.backupignore is not applied: it has 1001")


def test_pattern_lines_in_force_in_one_folder_are_capped() -> None:
    half = MAX_LINES_IN_FORCE // 2
    problems: list[str] = []
    root = IgnoreRules.root((), numbered(half, b"root%d"), problems=problems)
    sub = root.child(b"sub", numbered(MAX_LINES_IN_FORCE - half, b"sub%d"), problems=problems)
    deeper = sub.child(b"deeper", b"one\n", "sub/deeper/.backupignore", problems)
    sibling = root.child(b"other", b"one\n", problems=problems)
    assert len(problems) == 1
    assert problems[0].startswith("sub/deeper/.backupignore is not applied: with it, 2001 ")
    assert not deeper.excluded(b"one", is_dir=False)
    assert deeper.excluded(b"root1", is_dir=False)
    assert deeper.excluded(b"sub1", is_dir=False)
    assert sibling.excluded(b"one", is_dir=False)


def test_ignore_files_in_force_in_one_folder_are_capped() -> None:
    problems: list[str] = []
    rules = IgnoreRules.root((), b"/a\n", problems=problems)
    for depth in range(1, MAX_FILES_IN_FORCE + 1):
        rules = rules.child(b"a", b"/a\nx%d\n" % depth, problems=problems)
    assert len(problems) == 1
    assert problems[0].startswith(f"a/.backupignore is not applied: {MAX_FILES_IN_FORCE} ignore")
    assert rules.excluded(b"x1", is_dir=False)
    assert not rules.excluded(b"x%d" % MAX_FILES_IN_FORCE, is_dir=False)


def test_pattern_lines_applied_in_one_walk_are_capped() -> None:
    problems: list[str] = []
    root = IgnoreRules.root((), None, problems=problems)
    files = MAX_LINES_PER_WALK // MAX_PATTERN_LINES
    content = numbered(MAX_PATTERN_LINES)
    subs = [root.child(b"d%d" % i, content, problems=problems) for i in range(files + 1)]
    assert len(problems) == 1
    assert problems[0].startswith(f"d{files}/.backupignore is not applied: the ignore files")
    assert subs[0].excluded(b"f1", is_dir=False)
    assert not subs[-1].excluded(b"f1", is_dir=False)


def test_messages_do_not_pass_control_characters_to_the_terminal() -> None:
    rule = Rule("d\x1b[2J/.backupignore", 1, b"\x1b]0;x\x07*\xff")
    assert rule.describe() == "`\\x1b]0;x\\x07*\\xff` (d\\x1b[2J/.backupignore line 1)"
    problem = parse_ignore_file(numbered(MAX_PATTERN_LINES + 1), "\x9b.backupignore").problem
    assert problem is not None
    assert problem.startswith("\\x9b.backupignore is not applied")
