"""`agsekit run` against the Multipass double: the agent really runs in the sandbox on the
mounted folder, with snapshots around it (issue 5)."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import pty
import select
import shlex
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.conftest import SECRET, Setup, config_text, files_containing, has, wait_for
from tests.helpers import describe_tree, snapshots_in, start_cli, write


def test_runs_in_the_matching_folder_and_returns_the_agents_status(setup: Setup) -> None:
    result = setup.run("run", "claude", "exit", "7", cwd=setup.project / "src" / "deep")
    assert result.returncode == 7, result.stderr
    assert (setup.evidence / "pwd").read_text().strip() == "/home/ubuntu/project/src/deep"


def test_arguments_after_the_agent_are_passed_untouched(setup: Setup) -> None:
    result = setup.run("run", "claude", "args", "--model", "x y", "-v", "--", "--help")
    assert result.returncode == 0, result.stderr
    assert (setup.evidence / "args").read_text().splitlines() == [
        "--from-config",
        "args",
        "--model",
        "x y",
        "-v",
        "--",
        "--help",
    ]


def test_a_wiped_project_is_recoverable_from_the_snapshot_before(setup: Setup) -> None:
    original = describe_tree(setup.project)
    result = setup.run("run", "claude", "wipe")
    assert result.returncode == 0, result.stderr
    assert list(setup.project.iterdir()) == []
    names = snapshots_in(setup.backups)
    # an emptied folder is never recorded as the latest state: the snapshot taken before
    # the session stays the latest, and the user is told so
    assert len(names) == 1
    assert describe_tree(setup.backups / names[0]) == original
    assert f"snapshot before the session: taken {names[0]}" in result.stderr
    assert f"the last good snapshot is {setup.backups / names[0]}" in result.stderr
    assert "MASS DELETION" in result.stderr
    command = next(
        line.split("Bring it all back:", 1)[1].strip()
        for line in result.stderr.splitlines()
        if "Bring it all back:" in line
    )
    assert command.startswith("agsekit backup-restore")
    restored = setup.run(*shlex.split(command)[1:])  # the one command the user is given
    assert restored.returncode == 0, restored.stderr
    assert describe_tree(setup.project) == original
    labels = (setup.backups / ".agsekit" / "manifests" / f"{names[0]}.json").read_text()
    assert "before claude session" in labels


def test_in_a_session_losses_are_measured_from_its_start(setup: Setup) -> None:
    """The oldest snapshot predates the user's 80 new files, and none is an hour old, so
    outside a session a loss of them would be measured from it and never be one. In the
    session the reference is the state at its start: the agent deletes 30 of them, waits
    for a snapshot during the session (36%: no alarm), then deletes the other 50, and the
    alarm goes off since the snapshot before the session; its one command brings all 80
    back, the first 30 lost on the way included."""
    setup.config.write_text(config_text(setup.project, setup.backups, setup.vm, interval=0.01))
    oldest = setup.run("backup-once", "--source-dir", str(setup.project), "--dest-dir",
                       str(setup.backups))  # fmt: skip
    assert oldest.returncode == 0, oldest.stderr
    for folder, count in (("a", 30), ("b", 50)):
        for index in range(count):
            write(setup.project / folder / f"{index:02}.txt", f"{folder} {index}\n")
    original = describe_tree(setup.project)
    proc = start_cli("run", "claude", "steps", "a", "b", env=setup.env, cwd=setup.project)
    wait_for(setup.evidence / "started-steps")
    taken = len(snapshots_in(setup.backups))
    deadline = time.monotonic() + 60
    while len(snapshots_in(setup.backups)) <= taken:  # a snapshot during the session, a/ gone
        assert time.monotonic() < deadline, "no snapshot was taken during the session"
        time.sleep(0.05)
    (setup.evidence / "go-steps").touch()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    start = err.split("snapshot before the session: taken ", 1)[1].split()[0]
    names = snapshots_in(setup.backups)
    assert names[0] != start and len(names) >= 4  # oldest, start, during, after
    alarms = [
        line for line in (setup.backups / ".agsekit" / "log").read_text().splitlines()
        if "ALARM mass deletion" in line
    ]  # fmt: skip
    assert len(alarms) == 1, alarms
    assert f"80 of 83 files lost since {start};" in alarms[0]
    command = shlex.split(alarms[0].split("restore with: ", 1)[1])
    back = setup.run(*command[1:])
    assert back.returncode == 0, back.stderr
    assert describe_tree(setup.project) == original


def test_no_backups_takes_no_snapshot(setup: Setup) -> None:
    assert setup.run("run", "--no-backups", "claude", "rewrite").returncode == 0
    assert not setup.backups.exists() or snapshots_in(setup.backups) == []


def test_secret_reaches_the_agent_but_no_command_line_disk_or_log(setup: Setup) -> None:
    proc = start_cli("run", "claude", "wait", "one", env=setup.env, cwd=setup.project)
    try:
        wait_for(setup.evidence / "started-one")
        host_hits = [p for p in Path("/proc").glob("[0-9]*/cmdline") if has(p, SECRET)]
        assert host_hits == [], "the secret is on a host command line"
        (setup.evidence / "go-one").touch()
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0, err
    expected = hashlib.sha256(SECRET.encode()).hexdigest()
    assert (setup.evidence / "token-sha").read_text().strip() == expected
    assert (setup.evidence / "plain").read_text() == "plain-value"
    assert (setup.evidence / "cmdline-hits-one").read_text() == "", "secret on a VM command line"
    # the double's whole state: every instance's home, its /dev/shm, its logs
    assert files_containing(setup.guest_home.parent.parent, SECRET) == []
    assert not any((setup.guest_home.parent.parent / "shm" / setup.vm).iterdir())
    assert files_containing(setup.backups, SECRET) == []
    assert SECRET not in err


def test_debug_output_masks_the_secret(setup: Setup) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agsekit",
            "--debug",
            "run",
            "claude",
            "exit",
            "0",
        ],
        cwd=setup.project,
        env=setup.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "AGENT_TOKEN=******" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_missing_host_variable_is_a_clear_error(setup: Setup) -> None:
    env = {k: v for k, v in setup.env.items() if k != "TEST_AGENT_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "agsekit", "run", "claude"],
        cwd=setup.project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "TEST_AGENT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_reaches_the_agent_and_the_last_snapshot_is_taken(setup: Setup) -> None:
    write(setup.project / "changed-during-session.txt", "x")
    proc = start_cli("run", "claude", "trap", env=setup.env, cwd=setup.project, new_session=True)
    wait_for(setup.evidence / "started-trap")
    write(setup.project / "late.txt", "written while the agent ran")
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl+C
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in out
    last = setup.backups / snapshots_in(setup.backups)[-1]
    assert (last / "late.txt").read_text() == "written while the agent ran"


def test_two_sessions_on_one_mount_run_side_by_side(setup: Setup) -> None:
    procs = [
        start_cli("run", "claude", "wait", tag, env=setup.env, cwd=setup.project)
        for tag in ("a", "b")
    ]
    try:
        for tag in ("a", "b"):
            wait_for(setup.evidence / f"started-{tag}")
        status = setup.run("status", "--json")
        assert status.returncode == 0, status.stderr
        sessions = json.loads(status.stdout)["sessions"]
        assert [s["agent"] for s in sessions] == ["claude", "claude"]
        assert {s["folder"] for s in sessions} == {str(setup.project)}
        text = setup.run("status").stdout
        assert text.count(f"claude in {setup.vm} on {setup.project}") == 2
        for tag in ("a", "b"):
            (setup.evidence / f"go-{tag}").touch()
        codes = [p.wait(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert codes == [0, 0]


def test_folder_outside_every_mount_is_refused(setup: Setup, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = setup.run("run", "claude", cwd=elsewhere)
    assert result.returncode == 2
    assert "is not inside any mounted folder" in result.stderr
    assert f"agsekit addmount {elsewhere} --mount-now" in result.stderr


def test_inactive_mount_is_refused_without_auto_mount(setup: Setup) -> None:
    assert setup.run("umount", "--all").returncode == 0
    refused = setup.run("run", "claude")
    assert refused.returncode == 2
    assert "--auto-mount" in refused.stderr
    allowed = setup.run("run", "--auto-mount", "claude", "exit", "0")
    assert allowed.returncode == 0, allowed.stderr
    assert "mounted" in allowed.stderr


def test_stopped_vm_is_started(setup: Setup) -> None:
    setup.mp.ok("stop", setup.vm)
    result = setup.run("run", "claude", "exit", "0")
    assert result.returncode == 0, result.stderr


def test_down_refuses_while_a_session_runs(setup: Setup) -> None:
    proc = start_cli("run", "claude", "wait", "d", env=setup.env, cwd=setup.project, capture=False)
    try:
        wait_for(setup.evidence / "started-d")
        refused = setup.run("down")
        assert refused.returncode == 1
        assert "agent session(s) running" in refused.stderr
        (setup.evidence / "go-d").touch()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    stopped = setup.run("down")
    assert stopped.returncode == 0, stopped.stderr
    assert '"Stopped"' in setup.mp.ok("list", "--format", "json")


def test_starter_config_is_offered_when_there_is_none(setup: Setup, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "config.yaml"
    env = {**setup.env, "CONFIG_PATH": str(target)}
    base = [sys.executable, "-m", "agsekit", "run", "claude"]
    refused = subprocess.run(
        base,
        cwd=setup.project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 2
    assert not target.exists()
    assert "cpu: 2" in refused.stderr
    written = subprocess.run(
        [*base[:-1], "--yes", "claude"],
        cwd=setup.project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    text = target.read_text()
    assert f'source: "{setup.project}"' in text
    assert "ram: 4G" in text and "disk: 20G" in text and "type: claude" in text
    check = subprocess.run(
        [sys.executable, "-m", "agsekit", "config-check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_the_agent_does_not_start_when_the_snapshot_before_fails(setup: Setup) -> None:
    blocker = setup.backups.parent / "not-a-folder"
    blocker.write_text("a file where the backup folder's parent should be\n")
    text = setup.config.read_text().replace(str(setup.backups), str(blocker / "backups"))
    setup.config.write_text(text)
    refused = setup.run("run", "claude", "exit", "0")
    assert refused.returncode == 1, refused.stderr
    assert "the snapshot before the session failed, so claude was not started" in refused.stderr
    assert "--no-backups" in refused.stderr
    assert not (setup.evidence / "pwd").exists(), "the agent ran unprotected"
    anyway = setup.run("run", "--no-backups", "claude", "exit", "0")
    assert anyway.returncode == 0, anyway.stderr
    assert (setup.evidence / "pwd").exists()


@dataclass
class Terminal:
    """The user's terminal, as a terminal emulator holds it: what it shows, what it types."""

    master: int
    proc: subprocess.Popen[bytes]
    shown: bytes = b""

    def read(self, timeout: float = 0.1) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return False
        self.shown += data
        return bool(data)

    def wait_for(self, path: Path, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert time.monotonic() < deadline, f"{path} never appeared; shown {self.shown!r}"
            self.read()

    def finish(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"agsekit did not exit; shown {self.shown!r}"
            self.read()
        while self.read():
            pass
        return self.proc.returncode


def on_a_terminal(setup: Setup, *args: str, rows: int = 30, cols: int = 100) -> Terminal:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "agsekit", "run", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, **setup.env},
        cwd=setup.project,
        start_new_session=True,
    )
    os.close(slave)
    return Terminal(master, proc)


def test_on_a_terminal_the_agent_gets_one_and_the_key_is_never_shown(setup: Setup) -> None:
    term = on_a_terminal(setup, "claude", "size")
    try:
        term.wait_for(setup.evidence / "started-size")
        assert (setup.evidence / "size-1").read_text().split() == ["30", "100"]
        fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 120, 0, 0))
        os.kill(term.proc.pid, signal.SIGWINCH)  # what the terminal's resize sends
        time.sleep(0.5)
        (setup.evidence / "go-size").touch()
        assert term.finish() == 0, term.shown
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        os.close(term.master)
    assert (setup.evidence / "stdin").read_text().strip() == "tty"
    assert (setup.evidence / "size-2").read_text().split() == ["45", "120"]
    expected = hashlib.sha256(SECRET.encode()).hexdigest()
    assert (setup.evidence / "token-sha").read_text().strip() == expected
    encoded = base64.b64encode(f"AGENT_TOKEN={SECRET}".encode())
    for needle in (SECRET.encode(), encoded[:16], b"agsekit-ready"):
        assert needle not in term.shown, f"{needle!r} was on the screen"
    assert b"no changes since snapshot" in term.shown  # the session ended normally


def test_on_a_terminal_ctrl_c_reaches_the_agent_and_the_last_snapshot_is_taken(
    setup: Setup,
) -> None:
    term = on_a_terminal(setup, "claude", "trap")
    try:
        term.wait_for(setup.evidence / "started-trap")
        write(setup.project / "late.txt", "written while the agent ran")
        os.write(term.master, b"\x03")  # Ctrl+C: a byte, as a terminal in raw mode sends it
        assert term.finish() == 130, term.shown
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        os.close(term.master)
    assert b"interrupted" in term.shown
    last = setup.backups / snapshots_in(setup.backups)[-1]
    assert (last / "late.txt").read_text() == "written while the agent ran"


def test_a_fifo_backupignore_never_blocks_the_last_snapshot(setup: Setup) -> None:
    """While the agent runs, a FIFO named .backupignore appears (nobody ever writes to it):
    the snapshot after the session is taken without reading it, and the agent's own exit
    status is not lost."""
    proc = start_cli("run", "claude", "held", "7", env=setup.env, cwd=setup.project)
    wait_for(setup.evidence / "started-held")
    os.mkfifo(setup.project / ".backupignore")
    write(setup.project / "late.txt", "written while the agent ran\n")
    (setup.evidence / "go-held").touch()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 7, err
    assert ".backupignore is a FIFO, not a file: not applied" in err
    assert "snapshot after the session: " in err
    last = setup.backups / snapshots_in(setup.backups)[-1]
    assert (last / "late.txt").read_text() == "written while the agent ran\n"
    assert not (last / ".backupignore").exists()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_the_agent_and_take_the_last_snapshot(
    setup: Setup, sig: signal.Signals, code: int
) -> None:
    proc = start_cli("run", "claude", "trap", env=setup.env, cwd=setup.project, new_session=True)
    wait_for(setup.evidence / "started-trap")
    write(setup.project / "late.txt", "written while the agent ran")
    proc.send_signal(sig)  # to agsekit alone: a service manager stopping it, a lost terminal
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "the last snapshot was taken" in err
    last = setup.backups / snapshots_in(setup.backups)[-1]
    assert (last / "late.txt").read_text() == "written while the agent ran"


def test_quiet_prints_only_the_agents_output_and_the_warnings_that_protect_data(
    setup: Setup,
) -> None:
    loud = setup.run("run", "claude", "exit", "0")
    assert "snapshot before the session" in loud.stdout + loud.stderr
    quiet = setup.run("run", "--quiet", "claude", "exit", "0")
    assert quiet.returncode == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")
    wiped = setup.run("run", "-q", "claude", "wipe")
    assert wiped.returncode == 0, wiped.stderr
    assert wiped.stdout == "wiped\n"
    assert "MASS DELETION" in wiped.stderr  # the alarm is never silenced
    assert all(line.startswith(("warning:", "!!! ")) for line in wiped.stderr.splitlines())
    assert "snapshot before the session" not in wiped.stderr
