"""The snapshot engine on real directories with real rsync (issue 2, behaviours 1-5, 9)."""

from __future__ import annotations

import json
import os
import re
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agsekit.core.errors import NothingToSnapshotError, UsageError
from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine.snapshot import SnapshotOutcome, SnapshotRequest, take_snapshot
from tests.helpers import describe_tree, run_cli, snapshots_in, write


def snap(
    src: Path,
    dest: Path,
    *excludes: str,
    reporter: RecordingReporter | None = None,
    clock: datetime | None = None,
) -> SnapshotOutcome:
    kwargs = {"clock": (lambda: clock)} if clock is not None else {}
    return take_snapshot(
        SnapshotRequest(src, dest, tuple(excludes)),
        reporter or RecordingReporter(),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write(root / "README.md", "hello\n")
    write(root / "src" / "main.py", "print('hi')\n")
    write(root / "src" / "util.py", "x = 1\n")
    write(root / "data" / "blob.bin", os.urandom(4096))
    return root


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "backups-project"


def latest_path(dest: Path) -> Path:
    return dest / snapshots_in(dest)[-1]


# ----- 1. layout ------------------------------------------------------------------------


def test_snapshot_holds_exactly_the_tree(src: Path, dest: Path) -> None:
    outcome = snap(src, dest)
    assert outcome.status == "created"
    assert outcome.name is not None
    assert re.fullmatch(r"\d{8}T\d{6}Z", outcome.name)
    assert describe_tree(dest / outcome.name) == describe_tree(src)
    assert sorted(os.listdir(dest)) == [".agsekit", outcome.name]
    assert (dest / ".agsekit").is_dir()


def test_other_entries_in_dest_are_left_alone(src: Path, dest: Path) -> None:
    write(dest / "notes.txt", "mine")
    write(dest / "2020-old-backup" / "x", "old")
    (dest / "20200101T000000Z-not-a-snapshot").mkdir()
    snap(src, dest)
    write(src / "new.txt")
    snap(src, dest)
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "2020-old-backup" / "x").read_text() == "old"
    assert (dest / "20200101T000000Z-not-a-snapshot").is_dir()
    assert len(snapshots_in(dest)) == 2


def test_names_strictly_increase_within_one_second(src: Path, dest: Path) -> None:
    moment = datetime(2026, 11, 28, 9, 30, 5, tzinfo=timezone.utc)
    names = []
    for index in range(3):
        write(src / f"f{index}")
        names.append(snap(src, dest, clock=moment).name)
    assert names == ["20261128T093005Z", "20261128T093006Z", "20261128T093007Z"]


def test_clock_stepping_back_a_little_still_gives_a_later_name(src: Path, dest: Path) -> None:
    snap(src, dest, clock=datetime(2026, 11, 28, 10, 0, 0, tzinfo=timezone.utc))
    write(src / "later")
    outcome = snap(src, dest, clock=datetime(2026, 11, 28, 9, 59, 30, tzinfo=timezone.utc))
    assert outcome.name == "20261128T100001Z"


# ----- 2. hard links and immutability ------------------------------------------------------


def test_unchanged_files_are_links_changed_files_are_copies(src: Path, dest: Path) -> None:
    first = snap(src, dest).name
    write(src / "src" / "main.py", "print('changed')\n")
    write(src / "new.txt", "new")
    outcome = snap(src, dest)
    second = outcome.name
    assert first is not None and second is not None

    def ino(name: str, rel: str) -> int:
        return os.lstat(dest / name / rel).st_ino

    assert ino(first, "README.md") == ino(second, "README.md")
    assert ino(first, "data/blob.bin") == ino(second, "data/blob.bin")
    assert ino(first, "src/main.py") != ino(second, "src/main.py")
    assert (dest / second / "new.txt").read_text() == "new"
    assert outcome.linked_files == 3
    assert outcome.copied_files == 2
    assert (outcome.added, outcome.modified, outcome.deleted) == (1, 1, 0)


def test_edits_in_source_never_change_existing_snapshots(src: Path, dest: Path) -> None:
    first = snap(src, dest).name
    write(src / "other", "o")
    second = snap(src, dest).name
    assert first and second
    before = {n: describe_tree(dest / n) for n in (first, second)}
    with open(src / "README.md", "w") as fh:  # truncate in place
        fh.write("")
    with open(src / "data" / "blob.bin", "r+b") as fh:  # rewrite in place
        fh.write(b"\0" * 10)
    os.chmod(src / "src" / "util.py", 0o600)
    (src / "src" / "main.py").unlink()
    snap(src, dest)
    assert {n: describe_tree(dest / n) for n in (first, second)} == before


# ----- 3. what counts as a change --------------------------------------------------------


def test_no_change_means_no_snapshot(src: Path, dest: Path) -> None:
    first = snap(src, dest)
    again = snap(src, dest)
    assert again.status == "unchanged"
    assert again.name == first.name
    assert len(snapshots_in(dest)) == 1


def _change_cases() -> dict[str, object]:
    def same_size_rewrite_same_mtime(root: Path) -> None:
        path = root / "README.md"
        st = os.stat(path)
        path.write_text("HELLO\n")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    def rename(root: Path) -> None:
        os.rename(root / "src" / "util.py", root / "src" / "helpers.py")

    def symlink_retarget(root: Path) -> None:
        os.unlink(root / "link")
        os.symlink("src/util.py", root / "link")

    return {
        "same-size rewrite keeping mtime": same_size_rewrite_same_mtime,
        "deletion only": lambda root: (root / "src" / "util.py").unlink(),
        "rename": rename,
        "mode change": lambda root: os.chmod(root / "README.md", 0o600),
        "symlink retarget": symlink_retarget,
        "new empty directory": lambda root: (root / "empty").mkdir(),
        "ignore file edit": lambda root: write(root / ".backupignore", "*.bin\n"),
    }


@pytest.mark.parametrize("case", list(_change_cases()))
def test_changes_are_detected(src: Path, dest: Path, case: str) -> None:
    os.symlink("README.md", src / "link")
    snap(src, dest)
    change = _change_cases()[case]
    change(src)  # type: ignore[operator]
    outcome = snap(src, dest)
    assert outcome.status == "created", case
    assert describe_tree(latest_path(dest)) == describe_tree_without(src, case)


def describe_tree_without(src: Path, case: str) -> dict[bytes, tuple[str, int, str]]:
    tree = describe_tree(src)
    if case == "ignore file edit":
        tree.pop(b"data/blob.bin")
    return tree


def test_same_size_rewrite_within_the_same_second(src: Path, dest: Path) -> None:
    snap(src, dest)
    (src / "README.md").write_text("HELLO\n")  # same size, immediately
    assert snap(src, dest).status == "created"
    assert (latest_path(dest) / "README.md").read_text() == "HELLO\n"


def test_changed_exclude_pattern_is_a_change(src: Path, dest: Path) -> None:
    snap(src, dest)
    outcome = snap(src, dest, "*.bin")
    assert outcome.status == "created"
    assert not (latest_path(dest) / "data" / "blob.bin").exists()
    assert snap(src, dest, "*.bin").status == "unchanged"
    assert snap(src, dest).status == "created"  # dropping the pattern brings the file back


def test_touching_only_an_excluded_file_is_not_a_change(src: Path, dest: Path) -> None:
    write(src / ".backupignore", "*.log\nbuild/\n")
    write(src / "debug.log", "1")
    write(src / "build" / "out.o", "1")
    snap(src, dest)
    write(src / "debug.log", "2 more")
    write(src / "build" / "out.o", "2 more")
    write(src / "build" / "new.o", "3")
    assert snap(src, dest).status == "unchanged"
    assert snap(src, dest).status == "unchanged"


def test_a_file_replacing_an_excluded_dir_of_the_same_name_is_seen(src: Path, dest: Path) -> None:
    write(src / ".backupignore", "build/\n")
    write(src / "build" / "out.o", "1")
    snap(src, dest)
    (src / "build" / "out.o").unlink()
    (src / "build").rmdir()
    write(src / "build", "now a file")
    assert snap(src, dest).status == "created"
    assert (latest_path(dest) / "build").read_text() == "now a file"


# ----- 4. ignore rules as a user reads them ----------------------------------------------


def test_readme_backupignore_example(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write(
        root / ".backupignore",
        "# comment\nvenv/\nnode_modules/\n\n*.log\n*.tmp\n!logs/important.log\ndocs/build/\n",
    )
    for rel in [
        "venv/lib/x.py",
        "node_modules/a/index.js",
        "app.log",
        "logs/important.log",
        "logs/other.log",
        "sub/logs/important.log",
        "x.tmp",
        "docs/build/index.html",
        "docs/src/index.md",
        "main.py",
    ]:
        write(root / rel)
    outcome = snap(root, tmp_path / "d")
    assert outcome.name
    kept = {p for p, v in describe_tree(tmp_path / "d" / outcome.name).items() if v[0] == "file"}
    assert kept == {
        b".backupignore",
        b"logs/important.log",
        b"docs/src/index.md",
        b"main.py",
    }


def test_nested_backupignore_applies_to_its_subtree(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write(root / "a" / ".backupignore", "*.dat\n!keep.dat\n")
    write(root / "a" / "x.dat")
    write(root / "a" / "keep.dat")
    write(root / "b" / "x.dat")
    outcome = snap(root, tmp_path / "d")
    snapshot = tmp_path / "d" / str(outcome.name)
    assert not (snapshot / "a" / "x.dat").exists()
    assert (snapshot / "a" / "keep.dat").exists()
    assert (snapshot / "b" / "x.dat").exists()


def test_exclude_option_wins_over_backupignore(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write(root / ".backupignore", "!*.keep\n")
    write(root / "a.keep")
    write(root / "b.txt")
    outcome = snap(root, tmp_path / "d", "*.keep")
    assert not (tmp_path / "d" / str(outcome.name) / "a.keep").exists()
    assert (tmp_path / "d" / str(outcome.name) / "b.txt").exists()


# ----- 5. bad paths and an emptied source -------------------------------------------------


def test_dest_inside_source_is_refused(src: Path) -> None:
    dest = src / "backups"
    with pytest.raises(UsageError, match="lies inside the source"):
        snap(src, dest)
    assert not dest.exists()


@pytest.mark.parametrize("where", ["same", "source inside dest"])
def test_source_equal_to_or_inside_dest_is_refused(tmp_path: Path, where: str) -> None:
    dest = tmp_path / "d"
    src = dest if where == "same" else dest / "project"
    write(src / "f")
    with pytest.raises(UsageError):
        snap(src, dest)
    assert snapshots_in(dest) == []


def test_missing_source_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        snap(tmp_path / "nope", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_source_that_is_a_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "file")
    with pytest.raises(UsageError, match="not a folder"):
        snap(tmp_path / "file", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_emptied_source_is_not_recorded(src: Path, dest: Path) -> None:
    good = snap(src, dest).name
    for child in src.iterdir():
        _remove(child)
    with pytest.raises(NothingToSnapshotError) as info:
        snap(src, dest)
    assert str(good) in info.value.message
    assert snapshots_in(dest) == [good]


def test_first_snapshot_of_an_empty_source_is_taken(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert snap(tmp_path / "empty", tmp_path / "d").status == "created"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            _remove(child)
        path.rmdir()
    else:
        path.unlink()


# ----- 9. links, special files and odd names ---------------------------------------------


def test_symlinks_are_stored_as_links_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "secret.txt", "secret")
    root = tmp_path / "p"
    write(root / "f", "f")
    os.symlink(outside, root / "to-outside")
    os.symlink(outside / "secret.txt", root / "secret-link")
    os.symlink("does-not-exist", root / "dangling")
    outcome = snap(root, tmp_path / "d")
    snapshot = tmp_path / "d" / str(outcome.name)
    assert os.readlink(snapshot / "to-outside") == str(outside)
    assert os.readlink(snapshot / "dangling") == "does-not-exist"
    assert (snapshot / "to-outside").is_symlink()
    assert describe_tree(snapshot) == describe_tree(root)


def test_special_files_are_skipped_with_a_note(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write(root / "f")
    os.mkfifo(root / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    try:
        reporter = RecordingReporter()
        outcome = snap(root, tmp_path / "d", reporter=reporter)
    finally:
        sock.close()
    assert sorted(os.listdir(tmp_path / "d" / str(outcome.name))) == ["f"]
    assert any("pipe" in w and "sock" in w for w in reporter.warnings)


ODD_NAMES = [b"with space", b"new\nline", b"-leading-dash", b"bad\xffutf8\xfe", b"--", b"*?[x]"]


def test_odd_names_are_preserved_exactly(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    base = os.fsencode(root)
    for index, name in enumerate(ODD_NAMES):
        with open(base + b"/" + name, "wb") as fh:
            fh.write(b"content %d" % index)
        os.mkdir(base + b"/dir " + name)
        os.symlink(name, base + b"/dir " + name + b"/link")
    first = snap(root, tmp_path / "d")
    with open(base + b"/" + ODD_NAMES[1], "ab") as fh:
        fh.write(b"!")
    second = snap(root, tmp_path / "d")
    assert second.status == "created"
    for outcome in (first, second):
        assert outcome.name
    assert describe_tree(tmp_path / "d" / str(second.name)) == describe_tree(root)
    assert (second.added, second.modified, second.deleted) == (0, 1, 0)


def test_read_only_folders_are_kept_and_removable(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write(root / "ro" / "f", "x")
    os.chmod(root / "ro", 0o555)
    try:
        outcome = snap(root, tmp_path / "d")
        snapshot = tmp_path / "d" / str(outcome.name)
        assert os.stat(snapshot / "ro").st_mode & 0o777 == 0o555
        assert describe_tree(snapshot) == describe_tree(root)
    finally:
        os.chmod(root / "ro", 0o755)


def test_only_ascii_names_of_the_exact_form_are_snapshots(src: Path, dest: Path) -> None:
    """A folder the engine did not make is never taken for a snapshot (and so never
    removed by retention): not with full-width digits, not with a trailing newline."""
    write(src / "a.txt", "a\n")
    assert run_cli("backup-once", "--source-dir", src, "--dest-dir", dest).returncode == 0
    (taken,) = snapshots_in(dest)
    strangers = ["\uff12\uff10\uff12\uff16" + "0101T000000Z", "20260101T000000Z\n"]
    for name in strangers:
        (dest / name).mkdir()
        (dest / name / "keep.txt").write_text("not a snapshot\n")
    for command in ("backup-list", "backup-clean"):
        extra = ["--dry-run"] if command == "backup-clean" else []
        shown = run_cli(command, "--dest-dir", dest, "--json", *extra)
        assert shown.returncode == 0, shown.stderr
        assert [s["name"] for s in json.loads(shown.stdout)] == [taken]
    for name in strangers:
        assert (dest / name / "keep.txt").read_text() == "not a snapshot\n"
