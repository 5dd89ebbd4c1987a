"""The PTY relay, driven through a real pseudo-terminal standing for the user's terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agsekit.tools.ptyrelay import MarkerFilter

MARKER = "ready-7f3c1a"
PAYLOAD = "s3cret-payload-line"
DRIVER = (
    "import json, sys\n"
    "from agsekit.tools.ptyrelay import Handover, run_attached\n"
    "spec = json.loads(sys.argv[1])\n"
    "handover = Handover(spec['marker'].encode(), spec['payload'].encode())\n"
    "sys.exit(run_attached(spec['argv'], handover) % 256)\n"
)
# What the launcher in the VM does: echo off on a terminal, the marker (here in two
# pieces, so that the relay must hold back a partial one), read, echo back on.
PROGRAM = r"""
out=$1 marker=$2 mode=${3:-}
if [ -t 0 ]; then
  echo tty > "$out/stdin"; saved=$(stty -g); stty -echo
else
  echo pipe > "$out/stdin"
fi
if [ "$mode" = silent ]; then
  read -r -t 1 line; printf '%s' "${line:-nothing}" > "$out/payload"; exit 0
fi
printf '%s' "${marker:0:3}"; sleep 0.2; printf '%s\n' "${marker:3}"
IFS= read -r line
printf '%s' "$line" > "$out/payload"
if [ -t 0 ]; then stty "$saved"; fi
echo "visible output"
case $mode in
  size) echo ready; IFS= read -r _; stty size > "$out/size" ;;
  typed) IFS= read -r typed; printf '%s' "$typed" > "$out/typed" ;;
  trap)
    trap 'echo interrupted; exit 130' INT
    echo waiting
    for _ in $(seq 200); do sleep 0.05; done ;;
  rest) cat > "$out/rest" ;;
  exit) exit 7 ;;
esac
"""


@dataclass
class Terminal:
    """The user's side of the terminal: what a terminal emulator would read and type."""

    master: int
    proc: subprocess.Popen[bytes]
    seen: bytes = b""

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def read_until(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; seen {self.seen!r}")
            self._read(0.1)

    def finish(self, timeout: float = 20) -> int:
        code = self.proc.wait(timeout=timeout)
        while self._read(0.1):
            pass
        return code

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return False
        self.seen += data
        return bool(data)


def spec(out: Path, mode: str) -> str:
    argv = ["bash", "-c", PROGRAM, "program", str(out), MARKER, mode]
    return json.dumps({"argv": argv, "marker": MARKER, "payload": PAYLOAD + "\n"})


Start = Callable[[str], Terminal]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    started: list[Terminal] = []

    def begin(mode: str) -> Terminal:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, spec(tmp_path, mode)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        started.append(Terminal(master, proc))
        return started[-1]

    yield begin
    for term in started:
        if term.proc.poll() is None:
            term.proc.kill()
            term.proc.wait()
        os.close(term.master)


def test_payload_reaches_the_program_unseen_and_the_marker_is_swallowed(
    start: Start, tmp_path: Path
) -> None:
    term = start("")
    assert term.finish() == 0
    assert (tmp_path / "stdin").read_text().strip() == "tty"
    assert (tmp_path / "payload").read_text() == PAYLOAD
    assert b"visible output" in term.seen
    assert PAYLOAD.encode() not in term.seen  # echo was off: never on the screen
    assert MARKER[:3].encode() not in term.seen
    assert MARKER[3:].encode() not in term.seen


def test_keys_typed_early_reach_the_program_after_the_payload(start: Start, tmp_path: Path) -> None:
    term = start("typed")
    term.type(b"typed-early\r")
    assert term.finish() == 0
    assert (tmp_path / "payload").read_text() == PAYLOAD
    assert (tmp_path / "typed").read_text() == "typed-early"


def test_window_size_follows_the_terminal(start: Start, tmp_path: Path) -> None:
    term = start("size")
    term.read_until("ready")
    fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
    os.kill(term.proc.pid, signal.SIGWINCH)  # what the terminal's size change sends
    time.sleep(0.3)
    term.type(b"\r")
    assert term.finish() == 0
    assert (tmp_path / "size").read_text().split() == ["40", "132"]


def test_ctrl_c_is_the_programs_and_its_status_comes_back(start: Start) -> None:
    term = start("trap")
    term.read_until("waiting")
    term.type(b"\x03")
    assert term.finish() == 130
    assert b"interrupted" in term.seen


def test_exit_status_and_the_users_terminal_mode_are_restored(start: Start) -> None:
    term = start("exit")
    before = termios.tcgetattr(term.master)
    assert term.finish() == 7
    assert termios.tcgetattr(term.master) == before


def test_no_marker_no_payload(start: Start, tmp_path: Path) -> None:
    term = start("silent")
    assert term.finish() == 0
    assert (tmp_path / "payload").read_text() == "nothing"


def test_without_a_terminal_the_payload_comes_first_on_a_pipe(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, spec(tmp_path, "rest")],
        input=b"the rest of stdin\n",
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "stdin").read_text().strip() == "pipe"
    assert (tmp_path / "payload").read_text() == PAYLOAD
    assert (tmp_path / "rest").read_text() == "the rest of stdin\n"
    assert PAYLOAD.encode() not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "chunks", [[b"ab", b"MARK", b"ER\r\ncd"], [b"abMA", b"R", b"KER\r", b"\ncd"]]
)
def test_marker_filter_holds_back_a_partial_marker(chunks: list[bytes]) -> None:
    filt = MarkerFilter(b"MARKER")
    shown = b"".join(filt.feed(chunk) for chunk in chunks) + filt.flush()
    assert shown == b"abcd"
    assert filt.found


def test_marker_filter_passes_what_only_looks_like_its_start() -> None:
    filt = MarkerFilter(b"MARKER")
    assert filt.feed(b"xMAR") == b"x"
    assert filt.feed(b"s attacks") == b"MARs attacks"
    assert filt.flush() == b""
    assert not filt.found
