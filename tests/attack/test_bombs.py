"""Trees built to exhaust the host: sparse files of 512 MiB and 16 TiB, files striped with
holes, many hard links of one file, chains of folders beyond PATH_MAX and beyond the
walk's depth limit, tens of thousands of empty folders. Every command must finish
quickly, cost the store what the data really is, and keep working after the bomb is
gone."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from agsekit.snapshots.engine.walk import MAX_DEPTH
from tests.attack.tools import agsekit
from tests.helpers import snapshots_in, write

MIB = 1 << 20


def _used(root: Path | bytes) -> int:
    """Bytes of disk the regular files below root use, each inode once (as du counts)."""
    seen: set[int] = set()
    total = 0
    for _folder, _dirs, files, dirfd in os.fwalk(root):
        for name in files:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def _same_bytes(first: Path, second: Path) -> bool:
    with first.open("rb") as one, second.open("rb") as two:
        while True:
            a, b = one.read(4 * MIB), two.read(4 * MIB)
            if a != b:
                return False
            if not a:
                return True


def test_striped_sparse_file_costs_the_store_what_it_holds(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """One page of data in every 64 KiB block of a 64 MiB file: the source uses 4 MiB.
    The snapshot and a restored copy must not write whole blocks around each page (which
    cost 16 times the data, past what the space check measured)."""
    striped = project / "striped.bin"
    with striped.open("wb") as fh:
        fh.truncate(64 * MIB)
        for block in range(0, 64 * MIB, 64 << 10):
            fh.seek(block + (block // (64 << 10) % 15) * 4096)
            fh.write(os.urandom(4096))
    source_use = striped.stat().st_blocks * 512
    assert source_use <= 5 * MIB
    proc = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert proc.returncode == 0, proc.stderr
    copy = store / snapshots_in(store)[0] / "striped.bin"
    assert copy.stat().st_blocks * 512 <= 2 * source_use
    assert _same_bytes(copy, striped)
    out = tmp_path / "restored"
    restored = agsekit(
        "backup-restore", "--dest-dir", store, "--snapshot", "latest", "--to", out, env=env
    )
    assert restored.returncode == 0, restored.stderr
    assert (out / "striped.bin").stat().st_blocks * 512 <= 2 * source_use
    assert _same_bytes(out / "striped.bin", striped)
    # the digest did not change with the copy: the live file equals the snapshot's
    diff = agsekit("backup-diff", "--dest-dir", store, env=env)
    assert diff.stdout.strip().endswith("0 added, 0 modified, 0 deleted, 0 renamed"), diff.stdout


def test_huge_sparse_files_cost_nothing_and_every_view_is_quick(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """truncate -s 512M and -s 16T (on ext4, whose limit is 16 TiB - 4 KiB, the largest
    it takes): snapshot, diff, patch, history and a restore take no real space or time."""
    write(project / "small.txt", "x\n")
    sizes = {"half-gig.img": 512 * MIB, "sixteen-tera.img": 16 << 40}
    for name, size in sizes.items():
        with (project / name).open("wb") as fh:
            try:
                fh.truncate(size)
            except OSError as exc:
                assert exc.errno == errno.EFBIG
                sizes[name] = (16 << 40) - 4096
                fh.truncate(sizes[name])
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    snapshot = store / snapshots_in(store)[0]
    assert _used(store) < MIB
    for name, size in sizes.items():
        assert (snapshot / name).stat().st_size == size
    with (project / "sixteen-tera.img").open("r+b") as fh:
        fh.seek(sizes["sixteen-tera.img"] // 2)
        fh.write(b"one page of data in the middle\n")
    for args in (
        ("backup-once", "--source-dir", project),
        ("backup-diff", "--patch"),
        ("backup-history", "sixteen-tera.img", "--json"),
        ("backup-deleted",),
    ):
        dest = ("--dest-dir", store)
        proc = agsekit(*args, *dest, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert _used(store) < 2 * MIB
    out = tmp_path / "restored"
    restored = agsekit(
        "backup-restore", "--dest-dir", store, "--snapshot", "latest", "--to", out, env=env
    )
    assert restored.returncode == 0, restored.stderr
    assert (out / "sixteen-tera.img").stat().st_size == sizes["sixteen-tera.img"]
    assert _used(out) < MIB


def test_hard_links_in_subfolders_stay_in_place_and_cost_one_file(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """30 hard links of one 20 MiB file, in the root and in subfolders, some named like
    entries of the root: the snapshot holds each at its own path as one file (20 MiB
    once), and a restore gives them back as links of each other."""
    big = write(project / "big.bin", os.urandom(20 * MIB))
    write(project / "readme", "a root file named like a link below\n")
    places = [project / "a", project / "b" / "c", project / "b"]
    for folder in places:
        folder.mkdir(parents=True, exist_ok=True)
    links = [places[index % 3] / f"link{index:02d}" for index in range(28)]
    links.append(places[0] / "readme")
    for link in links:
        os.link(big, link)
    for round_no in range(2):  # the second snapshot links the leader from the first
        if round_no:
            write(project / "readme", "changed, so that a second snapshot is taken\n")
        proc = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
        assert proc.returncode == 0, proc.stderr
        snapshot = store / snapshots_in(store)[-1]
        inode = os.stat(snapshot / "big.bin").st_ino
        for link in links:
            assert os.stat(snapshot / link.relative_to(project)).st_ino == inode, link
        assert sorted(os.listdir(snapshot)) == ["a", "b", "big.bin", "readme"]
    assert 20 * MIB <= _used(store) < 22 * MIB
    out = tmp_path / "restored"
    restored = agsekit(
        "backup-restore", "--dest-dir", store, "--snapshot", "latest", "--to", out, env=env
    )
    assert restored.returncode == 0, restored.stderr
    assert {os.stat(out / link.relative_to(project)).st_ino for link in links} == {
        os.stat(out / "big.bin").st_ino
    }


def test_new_hard_links_of_a_big_file_cannot_stop_snapshots(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """Enough new hard links of a 20 MiB file that, each counted as a copy, they would
    need more than the disk has free: the snapshot is taken all the same (they are links,
    costing nothing), not refused for want of room."""
    big = write(project / "big.bin", os.urandom(20 * MIB))
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    free = os.statvfs(store).f_bavail * os.statvfs(store).f_frsize
    many = free // (20 * MIB) + 2
    assert many < 200_000, "a disk this large needs a larger file"
    links = project / "links"
    links.mkdir()
    for index in range(many):
        os.link(big, links / f"{index}")
    second = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert second.returncode == 0, second.stderr
    assert "SNAPSHOTS STOPPED" not in second.stderr and "not taking it" not in second.stderr
    assert len(snapshots_in(store)) == 2
    latest = store / snapshots_in(store)[-1]
    assert os.stat(latest / "links" / "0").st_ino == os.stat(latest / "big.bin").st_ino
    assert _used(store) < 22 * MIB


def _chain(top: Path, part: str, depth: int, leaf: str) -> None:
    """Folders part/part/... `depth` deep below top, made through descriptors (the path
    outgrows PATH_MAX), with the file `leaf` at the bottom."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(depth):
            os.mkdir(part, dir_fd=fd)
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if level == 99:
                with open(
                    os.open("level100.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w"
                ) as fh:
                    fh.write("at depth 100\n")
        with open(os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as fh:
            fh.write(f"the bottom of {part[:8]}\n")
    finally:
        os.close(fd)


def _write_at(dirfd: int, name: str, text: str) -> None:
    with open(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=dirfd), "w") as fh:
        fh.write(text)


def _find(root: Path, name: str) -> list[bytes]:
    """Contents of the files called name below root (walked through descriptors)."""
    found = []
    for _folder, _dirs, files, dirfd in os.fwalk(root):
        if name in files:
            fd = os.open(name, os.O_RDONLY, dir_fd=dirfd)
            with open(fd, "rb") as fh:
                found.append(fh.read())
    return found


def test_an_entry_that_cannot_be_removed_from_the_trash_never_stops_snapshots(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """A folder in .agsekit/trash that not even root can remove (chattr +i): each run
    warns once that the trash could not be emptied, and snapshots go on, complete; once
    the folder can be removed, the next run empties the trash."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr to make an entry nobody can remove")
    write(project / "a.txt", "a\n")
    once = ("backup-once", "--source-dir", project, "--dest-dir", store)
    assert agsekit(*once, env=env).returncode == 0
    stuck = write(store / ".agsekit" / "trash" / "old-partial" / "deep" / "f", "x\n").parent
    if subprocess.run(["chattr", "+i", str(stuck)], check=False).returncode != 0:
        pytest.skip("this filesystem has no immutable flag")
    try:
        for name in ("b.txt", "c.txt"):
            write(project / name, f"{name}\n")
            proc = agsekit(*once, env=env)
            assert proc.returncode == 0, proc.stderr
            assert proc.stderr.count("could not empty the trash (old-partial)") == 1, proc.stderr
            latest = store / snapshots_in(store)[-1]
            assert (latest / name).read_text() == f"{name}\n"
        assert len(snapshots_in(store)) == 3
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    write(project / "d.txt", "d\n")
    proc = agsekit(*once, env=env)
    assert proc.returncode == 0 and "trash" not in proc.stderr, proc.stderr
    assert list((store / ".agsekit" / "trash").iterdir()) == []


def test_folder_chains_beyond_path_max_and_the_depth_limit(
    project: Path, store: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """A chain of 24 folders with 200-byte names (a path of 4.8 KB, past PATH_MAX) is
    backed up, restored and diffed whole; a chain deeper than MAX_DEPTH is cut there,
    with a warning. Once the agent deletes both, snapshots, a restore of the old state
    and backup-clean (removing the snapshots that hold them) all work."""
    write(project / "main.py", "print('hi')\n")
    _chain(project, "n" * 200, 24, "long.txt")
    _chain(project, "d", MAX_DEPTH + 20, "deep.txt")
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    assert "nested deeper than the limit" in first.stderr
    good = snapshots_in(store)[0]
    assert _find(store / good, "long.txt") == [b"the bottom of nnnnnnnn\n"]
    assert _find(store / good, "level100.txt") == [b"at depth 100\n"]
    assert _find(store / good, "deep.txt") == []
    for args in (("backup-diff",), ("backup-deleted",), ("backup-list",)):
        proc = agsekit(*args, "--dest-dir", store, env=env)
        assert proc.returncode == 0, proc.stderr

    shutil.rmtree(project / ("n" * 200))
    shutil.rmtree(project / "d")
    gone = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert gone.returncode == 0, gone.stderr
    back = agsekit("backup-restore", "--dest-dir", store, "--snapshot", good, "--in-place", env=env)
    assert back.returncode == 0, back.stderr
    assert _find(project, "long.txt") == [b"the bottom of nnnnnnnn\n"]
    assert _find(project, "level100.txt") == [b"at depth 100\n"]
    shutil.rmtree(project / ("n" * 200))
    shutil.rmtree(project / "d")
    write(project / "main.py", "print('bye')\n")
    last = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert last.returncode == 0, last.stderr

    config = write(
        tmp_path / "clean.yaml",
        "retention:\n  keep_within: 1s\n  keep_hourly: 0\n  keep_daily: 0\n"
        "  keep_weekly: 0\n  keep_monthly: 0\n",
    )
    unpin = [n for n in snapshots_in(store)]
    for name in unpin:
        agsekit("backup-unpin", name, "--dest-dir", store, env=env)
    os.utime(store, None)
    clean = agsekit("backup-clean", "--dest-dir", store, "--config", config, env=env)
    assert clean.returncode == 0, clean.stderr
    assert snapshots_in(store) == unpin[-1:]
    assert os.listdir(store / ".agsekit" / "trash") == []
    assert _find(store, "long.txt") == [] and _find(store, "level100.txt") == []


def test_twenty_thousand_empty_folders(project: Path, store: Path, env: dict[str, str]) -> None:
    """Every snapshot repeats each folder (a folder cannot be hard-linked): the snapshot
    says what that costs, in numbers."""
    write(project / "main.py", "print('hi')\n")
    fd = os.open(project, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for index in range(20_000):
            os.mkdir(f"empty{index:05d}", dir_fd=fd)
    finally:
        os.close(fd)
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    assert "every snapshot repeats each of the source's 20000 folders" in first.stderr
    assert len(os.listdir(store / snapshots_in(store)[-1])) == 20_001
