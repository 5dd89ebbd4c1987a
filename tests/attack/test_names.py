"""Names that attack the terminal of whoever reads agsekit's output: ESC sequences that
clear the screen or hide text, newlines and carriage returns that forge a line of
output ("D nothing-important.txt"), C1 bytes (0x9b, a one-byte CSI, raw and as UTF-8),
BEL. Every human-readable output must show them quoted (never a raw control byte), and
every printed command must paste back, through a real shell, to the very same bytes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.attack.tools import cli_env
from tests.helpers import snapshots_in, write

ESC = b"\x1b[2J\x1b[31mred alert.txt"
FORGED = b"x\nD nothing-important.txt"
CARRIAGE = b"carriage\rD nothing-important.txt"
C1_RAW = b"csi\x9b31m raw.txt"
C1_UTF8 = "nel\u0085 and \u009bcsi.txt".encode()
BELL = b"bell\x07.txt"
EVIL_DIR = b"dir\x1b]0;title\x07"
NAMES = [ESC, FORGED, CARRIAGE, C1_RAW, C1_UTF8, BELL, EVIL_DIR + b"/inner.txt"]
# C0 but newline and TAB, DEL, C1; a raw byte that is not UTF-8 fails the decoding
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _run(*args: str | bytes | os.PathLike[str], env: dict[str, str]) -> tuple[int, bytes]:
    proc = subprocess.run(
        [sys.executable, "-m", "agsekit", *args],
        capture_output=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _clean(output: bytes, what: str) -> str:
    """The output as text: valid UTF-8 with no control character but newlines and TABs,
    and no forged line."""
    text = output.decode("utf-8")  # a raw 0x9b (or any byte that is not UTF-8) fails here
    found = _CONTROL.search(text)
    assert found is None, f"{what}: raw {found.group()!r} in {text!r}"
    forged = [line for line in text.splitlines() if line.startswith("D nothing-important")]
    assert forged == [], f"{what}: forged line in {text!r}"
    return text


def _path(root: Path, name: bytes) -> bytes:
    return os.fsencode(root) + b"/" + name


def _make(root: Path, content: str) -> None:
    os.makedirs(_path(root, EVIL_DIR), exist_ok=True)
    for name in NAMES:
        with open(_path(root, name), "w") as fh:
            fh.write(f"{content} {name!r}\n")


def test_hostile_names_are_quoted_in_every_output(
    project: Path, store: Path, tmp_path: Path
) -> None:
    env = cli_env(tmp_path)
    dest = ("--dest-dir", store)
    _make(project, "first")
    for index in range(8):
        write(project / f"plain{index}.txt", f"plain {index}\n")
    os.mkfifo(_path(project, b"fifo\x1b[8m hidden"))  # skipped, with a warning
    os.makedirs(_path(project, b"rules\x1b[8m"))
    os.symlink("/dev/null", _path(project, b"rules\x1b[8m/.backupignore"))  # warned about
    outputs: dict[str, bytes] = {}

    def run(what: str, *args: str | bytes | os.PathLike[str], code: int = 0) -> str:
        got, out = _run(*args, env=env)
        assert got == code, (what, out)
        outputs[what] = out
        return _clean(out, what)

    once = run("backup-once", "backup-once", "--source-dir", project, *dest)
    assert '"fifo\\033[8m hidden" (a FIFO)' in once
    assert '"rules\\033[8m/.backupignore" is a symlink' in once
    good = snapshots_in(store)[0]

    # the agent edits, deletes and adds hostile names, and hides one with the rules
    with open(_path(project, ESC), "w") as fh:
        fh.write("changed\n")
    os.unlink(_path(project, FORGED))
    os.unlink(_path(project, C1_RAW))
    with open(_path(project, b"new\x1b[1Afile.txt"), "w") as fh:
        fh.write("added\n")
    write(project / ".backupignore", "bell*\n")
    diff = run("backup-diff", "backup-diff", *dest)
    assert 'M "\\033[2J\\033[31mred alert.txt"' in diff
    assert 'D "x\\nD nothing-important.txt"' in diff
    assert 'D "csi\\23331m raw.txt"' in diff
    assert 'A "new\\033[1Afile.txt"' in diff
    patch = run("backup-diff --patch", "backup-diff", "--patch", *dest)
    assert 'diff --git "a/\\033[2J\\033[31mred alert.txt" "b/\\033[2J\\033[31mred alert.txt"' in (
        patch
    )
    deleted = run("backup-deleted", "backup-deleted", *dest)
    assert '"x\\nD nothing-important.txt"' in deleted
    history = run("backup-history", "backup-history", os.fsdecode(ESC), *dest)
    assert 'History of "\\033[2J\\033[31mred alert.txt":' in history

    once = run("backup-once (rules)", "backup-once", "--source-dir", project, *dest)
    assert "the ignore rules now leave out 1 file(s)" in once and '"bell\\a.txt"' in once
    dry = run(
        "restore --dry-run",
        "backup-restore", *dest, "--snapshot", good, "--in-place", "--delete", "--dry-run",
    )  # fmt: skip
    assert 'create "x\\nD nothing-important.txt"' in dry
    assert 'delete "new\\033[1Afile.txt"' in dry
    restore = run("restore", "backup-restore", *dest, "--snapshot", good, "--in-place", "--delete")
    assert "Restored" in restore
    assert os.path.exists(_path(project, FORGED)) and os.path.exists(_path(project, C1_RAW))

    run("backup-pin", "backup-pin", good, "--label", "ok\x1b[8m hidden label", *dest)
    listing = run("backup-list", "backup-list", *dest)
    assert '"ok\\033[8m hidden label"' in listing

    # a mass deletion: the alarm names hostile paths quoted
    for name in NAMES:
        os.unlink(_path(project, name))
    for index in range(8):
        (project / f"plain{index}.txt").unlink()
    run("backup-unpin", "backup-unpin", good, *dest)
    alarm = run("alarm", "backup-once", "--source-dir", project, *dest)
    assert "MASS DELETION" in alarm and '"\\033[2J\\033[31mred alert.txt"' in alarm
    notified = (tmp_path / "notified").read_bytes()
    _clean(notified, "desktop notification")
    log = (store / ".agsekit" / "log").read_bytes()
    _clean(log, "the store's log")


def test_printed_commands_paste_back_to_the_same_bytes(
    project: Path, store: Path, tmp_path: Path
) -> None:
    """backup-deleted prints the command that brings the first lost file back: pasted
    into bash it restores exactly that file (a name with ESC, a newline, a raw 0x9b)."""
    env = cli_env(tmp_path)
    wrapper = tmp_path / "bin" / "agsekit"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m agsekit "$@"\n')
    wrapper.chmod(0o755)
    tricky = [
        b"\x1b[2J'quoted' \"twice\" \\ $HOME `id`\n-- D nothing-important.txt",
        b"\x9b raw c1 \xff\xfe not utf-8",
        b"-starts with a dash\tand a tab",
    ]
    for name in tricky:
        with open(_path(project, name), "w") as fh:
            fh.write(f"content of {name!r}\n")
    code, out = _run("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert code == 0, out
    for name in sorted(tricky):
        os.unlink(_path(project, name))
        code, out = _run("backup-deleted", "--dest-dir", store, env=env)
        assert code == 0, out
        text = _clean(out, "backup-deleted")
        command = text.splitlines()[-1].strip()
        assert command.startswith("agsekit backup-restore ") and "$'" in command, command
        pasted = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            env={**os.environ, **env},
            timeout=120,
            check=False,
        )
        assert pasted.returncode == 0, pasted.stderr
        with open(_path(project, name)) as fh:
            assert fh.read() == f"content of {name!r}\n"
    assert sorted(os.listdir(os.fsencode(project))) == sorted(tricky)
    shutil.rmtree(store)


def _on_a_terminal(*args: str | os.PathLike[str], env: dict[str, str]) -> bytes:
    """What `agsekit ARGS` writes to its standard output when that is a terminal."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agsekit", *args],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return out


def test_patch_content_cannot_drive_the_terminal(
    project: Path, store: Path, tmp_path: Path
) -> None:
    """File content is the agent's too: a changed line holding CR, erase-line and
    conceal (SGR 8) would show 'D nothing-important.txt' and hide all that follows (the
    summary included) on the terminal of whoever runs backup-diff --patch. On a terminal
    the control bytes are shown as escapes; into a pipe the patch stays byte-exact."""
    env = cli_env(tmp_path)
    write(project / "notes.txt", "line one\n")
    code, out = _run("backup-once", "--source-dir", project, "--dest-dir", store, env=env)
    assert code == 0, out
    hostile = b"ok\r\x1b[2KD nothing-important.txt\x1b[8m \xc2\x9b2J\x07\n"
    write(project / "notes.txt", b"line one\n" + hostile)
    shown = _on_a_terminal("backup-diff", "--patch", "--dest-dir", str(store), env=env)
    text = _clean(shown.replace(b"\r\n", b"\n"), "backup-diff --patch on a terminal")
    assert "+ok\\015\\033[2KD nothing-important.txt\\033[8m \\302\\2332J\\007" in text
    assert text.splitlines()[-1].endswith("0 added, 1 modified, 0 deleted, 0 renamed")
    code, piped = _run("backup-diff", "--patch", "--dest-dir", store, env=env)
    assert code == 0 and b"\n+" + hostile in piped
