"""A mount inside another mount's source: the agent working in the outer folder owns the
inner source's own folder entry, and can swap it for a symlink to anywhere on the host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agsekit.core.errors import UsageError
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.restore.plan import Wanted, plan_restore
from tests.attack.tools import Host, agsekit, holding_secret, racing, watching
from tests.helpers import snapshots_in, write
from tests.service.conftest import Service, mount_config, service_env

__all__ = ["service_env"]


def test_an_inner_source_swapped_for_a_symlink_is_neither_read_nor_written(
    tmp_path: Path, host: Host, env: dict[str, str]
) -> None:
    """After the inner source's first snapshot, the agent moves it away and leaves a symlink
    to a host folder in its place: a snapshot (what the service runs) reads nothing there,
    and neither restore (one that only creates, one with --delete) writes or removes
    anything there; each says why."""
    outer = tmp_path / "outer"
    inner = outer / "sub"
    store = tmp_path / "backups-outer-sub"
    write(inner / "notes.txt", "the user's notes\n")
    write(inner / "f00.txt", "a file named like one in the host folder\n")
    first = agsekit("backup-once", "--source-dir", inner, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    os.rename(inner, outer / ".moved-away")
    os.symlink(host.inbox, inner)
    before = host.state()
    with watching(host) as watch:
        snap = agsekit("backup-once", "--source-dir", inner, "--dest-dir", store, env=env)
        latest = snapshots_in(store)[-1]
        restores = [
            agsekit(
                "backup-restore",
                "--dest-dir",
                store,
                "--snapshot",
                latest,
                "--in-place",
                *extra,
                env=env,
            )
            for extra in ((), ("--delete",))
        ]
    assert snap.returncode != 0 and "holds the snapshots of" in snap.stderr, snap
    assert len(snapshots_in(store)) == 1
    assert holding_secret(store) == []
    for proc in restores:
        assert proc.returncode != 0 and "holds the snapshots of" in proc.stderr, proc
    assert watch.seen == [] and host.state() == before


def test_an_inner_source_swapped_back_and_forth_while_commands_run(
    tmp_path: Path, host: Host, env: dict[str, str]
) -> None:
    """The agent exchanges the inner source with a symlink to a host folder in a tight
    loop while snapshots and in-place restores (with --delete) of the inner mount run: the
    moment between resolving the folder and opening it never leads them outside."""
    outer = tmp_path / "outer"
    inner = outer / "sub"
    store = tmp_path / "backups-outer-sub"
    for name in ("f00.txt", "f01.txt", "notes.txt"):
        write(inner / name, f"the user's {name}\n")
    first = agsekit("backup-once", "--source-dir", inner, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    name = snapshots_in(store)[0]
    link = outer / ".link"
    os.symlink(host.inbox, link)
    before = host.state()
    codes = []
    with watching(host) as watch, racing((inner, link)) as race:
        for round_no in range(4):
            write(outer / ".moved-away" / "x", "")  # keeps the outer folder busy too
            snap = agsekit("backup-once", "--source-dir", inner, "--dest-dir", store, env=env)
            restore = agsekit(
                "backup-restore",
                "--dest-dir",
                store,
                "--snapshot",
                name,
                "--in-place",
                "--delete",
                env=env,
            )
            for proc in (snap, restore):
                assert "Traceback" not in proc.stderr, proc.stderr
            codes += [snap.returncode, restore.returncode, round_no]
    assert race.attempts > 1000
    assert watch.seen == [], watch.seen[:10]
    assert host.state() == before
    assert holding_secret(store, inner) == []


def test_the_service_does_not_watch_an_inner_source_swapped_for_a_symlink(
    tmp_path: Path, host: Host, env: dict[str, str], service_env: dict[str, str]
) -> None:
    """The service resolves the config's paths again at each start and reload, which leads
    to the symlink's target: it must see that the store records another folder, watch
    nothing there, read nothing there, and say why in its status."""
    outer = tmp_path / "outer"
    inner = outer / "sub"
    store = tmp_path / "backups-outer-sub"
    write(inner / "notes.txt", "the user's notes\n")
    first = agsekit("backup-once", "--source-dir", inner, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    os.rename(inner, outer / ".moved-away")
    os.symlink(host.inbox, inner)
    config = write(tmp_path / "config.yaml", mount_config(inner, store))
    before = host.state()
    with watching(host) as watch:
        service = Service(service_env, config)
        try:
            service.wait(
                lambda: "holds the snapshots of" in str(service.mount().get("reason")),
                60,
                "the mount reported as not watched",
            )
            assert service.mount()["mode"] == "polling"
        finally:
            assert service.stop() == 143  # SIGTERM, as every stop of the service
    assert watch.seen == [] and host.state() == before
    assert len(snapshots_in(store)) == 1


def test_a_restore_plan_never_walks_a_folder_swapped_after_it_was_checked(
    tmp_path: Path, host: Host, env: dict[str, str]
) -> None:
    """The moment between the restore's check of the recorded folder and its walk of the
    live tree: a symlink swapped in then is refused, never followed into the host folder
    (the walk once opened the checked path with symlinks followed)."""
    outer = tmp_path / "outer"
    inner = outer / "sub"
    store = tmp_path / "backups-outer-sub"
    write(inner / "notes.txt", "the user's notes\n")
    first = agsekit("backup-once", "--source-dir", inner, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    checked = Path(os.path.realpath(inner))  # what the restore resolved and checked
    os.rename(inner, outer / ".moved-away")
    os.symlink(host.inbox, inner)
    with watching(host) as watch, pytest.raises(UsageError, match="cannot read"):
        plan_restore(Store(store), [Wanted(snapshots_in(store)[0])], checked, delete=True)
    assert watch.seen == []
