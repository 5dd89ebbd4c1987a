"""Symlink swaps racing every command that reads or writes the live project.

A racing process exchanges the project folder `sub/` with `lnk`, a symlink to the host's
inbox/ (which holds files named like sub's, and the host's secret), thousands of times a
second while a command runs. Whatever the command sees, nothing outside the project and
the store may be opened, read, written or removed (an inotify watch on the host sees any
of that), and no snapshot, patch, report or restored file may hold the host's secret.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from agsekit.core.reporting import RecordingReporter
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.history.files import file_history
from agsekit.snapshots.restore.plan import Wanted
from agsekit.snapshots.restore.run import restore_in_place
from tests.attack.conftest import EXTRAS, FILES
from tests.attack.tools import SECRET, Host, agsekit, holding_secret, mv_racing, racing, watching
from tests.helpers import snapshots_in, write

MIN_ATTEMPTS = 200
MAX_RUNS = 12
PADDING = 600  # entries scanned between a folder's lstat and its opening: a wider window


@dataclass(frozen=True)
class Layout:
    sub: Path  # a folder of the project ...
    lnk: Path  # ... raced with this symlink to the host's inbox/
    top: Path  # a file of the project ...
    keylink: Path  # ... raced with this symlink to the host's SSH key

    @property
    def pairs(self) -> tuple[tuple[Path, Path], ...]:
        return ((self.sub, self.lnk), (self.top, self.keylink))


def _make_project(project: Path, host: Host) -> Layout:
    sub = project / "sub"
    for index, name in enumerate(FILES):
        write(sub / name, f"project file {index}\n" * (index + 1))
    top = write(project / "top.txt", "a file of the project\n")
    for index in range(PADDING):
        (project / f"zpad{index:04d}").touch()
    os.symlink(host.inbox, project / "lnk")
    os.symlink(host.key, project / "keylink")
    return Layout(sub, project / "lnk", top, project / "keylink")


def _settle(layout: Layout, host: Host) -> None:
    """Put the racing names back in their roles (a restore racing the swaps may have
    replaced a symlink with the folder or file it raced, or recreated one, which is the
    project's own business): sub/ a real folder, lnk and keylink symlinks, top.txt not."""
    parked = layout.sub.with_name(".parked")  # where an interrupted mv loop left a name
    if layout.sub.is_symlink() or not layout.sub.exists():
        if os.path.lexists(layout.sub):
            layout.sub.unlink()
        for spare in (parked, layout.lnk):
            if spare.is_dir() and not spare.is_symlink():
                os.rename(spare, layout.sub)
                break
        else:
            layout.sub.mkdir()
    if parked.is_dir() and not parked.is_symlink():
        shutil.rmtree(parked)
    elif os.path.lexists(parked):
        parked.unlink()
    for link, target in ((layout.lnk, host.inbox), (layout.keylink, host.key)):
        if not link.is_symlink() or os.readlink(link) != str(target):
            if link.is_dir() and not link.is_symlink():
                shutil.rmtree(link)
            elif os.path.lexists(link):
                link.unlink()
            os.symlink(target, link)
    if layout.top.is_symlink():
        layout.top.unlink()
    # the test must never write through a symlink itself
    assert stat.S_ISDIR(os.lstat(layout.sub).st_mode)


def _dirty(layout: Layout, host: Host, round_no: int) -> None:
    """What the agent changed since the good snapshot (done while nothing races)."""
    _settle(layout, host)
    sub = layout.sub
    for name in FILES[::2]:
        write(sub / name, f"agent's version {round_no}\n")
    for name in EXTRAS:
        write(sub / name, "planted\n")
    write(layout.top, f"agent's top {round_no}\n")


def _no_escape(host: Host, before: object, seen: list[str], *roots: Path) -> None:
    assert seen == [], f"host entries were touched: {seen[:10]}"
    assert host.state() == before
    assert holding_secret(*roots) == []


def test_backup_once_racing_a_symlink_swap(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    layout = _make_project(project, host)
    before = host.state()
    codes = []
    with watching(host) as watch, racing(*layout.pairs) as race:
        for _ in range(3):
            proc = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
            assert "Traceback" not in proc.stderr, proc.stderr
            codes.append(proc.returncode)
    assert race.attempts >= MIN_ATTEMPTS
    assert set(codes) <= {0, 3, 23}, codes
    _no_escape(host, before, watch.seen, store, project)
    # with the race over, the next snapshot holds the project as it is
    final = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert final.returncode == 0, final.stderr
    latest = store / snapshots_in(store)[-1]
    assert (latest / "sub" / FILES[3]).read_text() == "project file 3\n" * 4
    assert os.readlink(latest / "lnk") == str(host.inbox)
    assert (latest / "top.txt").read_text() == "a file of the project\n"


def test_backup_once_racing_an_mv_loop(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    layout = _make_project(project, host)
    before = host.state()
    runs = 0
    with watching(host) as watch, mv_racing(layout.sub, layout.lnk) as race:
        while runs < 2 or (race.so_far() < MIN_ATTEMPTS and runs < MAX_RUNS):
            runs += 1
            proc = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
            assert "Traceback" not in proc.stderr, proc.stderr
    assert race.attempts >= MIN_ATTEMPTS
    _no_escape(host, before, watch.seen, store, project)


def _restore_rounds(
    project: Path,
    store: Path,
    host: Host,
    env: dict[str, str],
    *extra: str,
    mv: bool = False,
) -> None:
    """Restore the good snapshot over the agent's changes while the names race: at least
    two rounds, more until the racer made MIN_ATTEMPTS attempts (MAX_RUNS at most)."""
    layout = _make_project(project, host)
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    good = snapshots_in(store)[0]
    before = host.state()
    attempts = 0
    with watching(host) as watch:
        round_no = 0
        while round_no < 2 or (attempts < MIN_ATTEMPTS and round_no < MAX_RUNS):
            round_no += 1
            _dirty(layout, host, round_no)
            race = mv_racing(layout.sub, layout.lnk) if mv else racing(*layout.pairs)
            with race as counts:
                proc = agsekit(
                    "backup-restore", "--dest-dir", store, "--snapshot", good, "--in-place",
                    *extra, env=env,
                )  # fmt: skip
            attempts += counts.attempts
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert "Traceback" not in proc.stderr
            assert SECRET.decode().strip() not in proc.stdout + proc.stderr
    assert attempts >= MIN_ATTEMPTS
    _no_escape(host, before, watch.seen, store, project)
    # the race over, a last restore brings sub/ back exactly
    _settle(layout, host)
    last = agsekit(
        "backup-restore", "--dest-dir", store, "--snapshot", good, "--in-place", "--delete",
        env=env,
    )  # fmt: skip
    assert last.returncode == 0, last.stderr
    assert sorted(p.name for p in layout.sub.iterdir()) == FILES
    assert (layout.sub / FILES[4]).read_text() == "project file 4\n" * 5
    assert layout.top.read_text() == "a file of the project\n", last.stdout + last.stderr
    assert os.readlink(layout.lnk) == str(host.inbox)


def test_restore_in_place_with_delete_racing_a_symlink_swap(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    _restore_rounds(project, store, host, env, "--delete")


def test_restore_in_place_racing_an_mv_loop(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    _restore_rounds(project, store, host, env, mv=True)


def test_diff_patch_history_and_deleted_racing_a_symlink_swap(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    layout = _make_project(project, host)
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    _dirty(layout, host, 0)
    (layout.sub / FILES[1]).unlink()
    before = host.state()
    outputs = []
    with watching(host) as watch, racing(*layout.pairs) as race:
        for _ in range(1):
            for args in (
                ("backup-diff", "--patch"),
                ("backup-diff", "--json"),
                ("backup-history", f"sub/{FILES[0]}"),
                ("backup-history", "top.txt", "--json"),
                ("backup-deleted",),
            ):
                proc = agsekit(*args, "--dest-dir", store, env=env)
                assert proc.returncode == 0, proc.stderr
                outputs.append(proc.stdout + proc.stderr)
    assert race.attempts >= MIN_ATTEMPTS
    _no_escape(host, before, watch.seen, store, project)
    assert not [out for out in outputs if SECRET.decode().strip() in out]
    assert not [out for out in outputs if "Traceback" in out]


def test_restore_delete_survives_an_entry_swapped_for_another_kind(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    """An extra folder and an extra symlink that `--delete` removes, swapped for each
    other between the check and the removal (unlink then meets a folder, rmdir a symlink):
    the restore leaves them alone and finishes; it does not stop half-way. (Run in-process,
    20 restores, so that the window of a few microseconds is met.)"""
    write(project / "keep.txt", "the user's file\n")
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    good = snapshots_in(store)[0]
    folder, link = project / "planted-dir", project / "planted-link"
    folder.mkdir()
    os.symlink(host.inbox, link)
    before = host.state()
    left_alone = 0
    with watching(host) as watch, racing((folder, link)) as race:
        for _ in range(20):
            for name, make in ((folder, os.mkdir), (link, lambda p: os.symlink(host.inbox, p))):
                if not os.path.lexists(name):
                    with contextlib.suppress(FileExistsError):
                        make(name)
            run = restore_in_place(
                Store(store), [Wanted(good)], project, RecordingReporter(), delete=True
            )
            assert run.result is not None
            left_alone += len(run.result.left_alone)
    assert race.attempts >= MIN_ATTEMPTS
    assert (project / "keep.txt").read_text() == "the user's file\n"
    _no_escape(host, before, watch.seen, store, project)


def test_backup_history_racing_a_link_swapped_for_a_file(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    """A symlink that backup-history finds as a link and then reads as a file (the racer
    swaps it with a file between the two): the history is still told, never a crash
    ('Invalid argument'). In-process, 400 looks, so that the short window is met."""
    write(project / "top.txt", "a file of the project\n")
    os.symlink(host.key, project / "keylink")
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    before = host.state()
    with watching(host) as watch, racing((project / "top.txt", project / "keylink")) as race:
        for index in range(400):
            name = b"keylink" if index % 2 else b"top.txt"
            history = file_history(Store(store), project, name)
            assert history.versions and history.live
    assert race.attempts >= MIN_ATTEMPTS
    _no_escape(host, before, watch.seen, store, project)
