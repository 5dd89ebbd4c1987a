"""Run a program attached to the user's terminal, handing it something on its standard
input first, out of the user's sight.

On a terminal (stdin and stdout both TTYs) the program gets a pseudo-terminal of ours and
agsekit relays bytes both ways with the user's terminal in raw mode: keys (Ctrl+C is just
the byte 0x03) go to the program, its output comes back, window-size changes follow. The
program announces that it is ready by printing a marker (with echo already off); the
marker is swallowed, the payload is written, and only then is the user's typing passed on.
Without a terminal the program's stdin is a pipe: the payload first, then agsekit's stdin.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import threading
import tty
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from agsekit.tools.runner import CHILDREN, wait_registered

# Runs in the child: make the pseudo-terminal its controlling terminal (so that it gets
# SIGWINCH and Ctrl+C), then become the real program. A constant, never built from data.
_TAKE_TERMINAL = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "try:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "except OSError as exc:\n"
    "    sys.stderr.write(f'agsekit: cannot run {sys.argv[1]}: {exc.strerror}\\r\\n')\n"
    "    os._exit(127)\n"
)


@dataclass(frozen=True)
class Handover:
    marker: bytes  # printed by the program when it reads (terminal only)
    payload: bytes  # what it reads


def run_attached(
    argv: Sequence[str], handover: Handover, *, stdin: int = 0, stdout: int = 1
) -> int:
    """Run argv to completion and return its exit status (negative: killed by a signal)."""
    if os.isatty(stdin) and os.isatty(stdout):
        return _through_pty(argv, handover, stdin, stdout)
    return _through_pipe(argv, handover, stdin)


# ----- on a terminal ---------------------------------------------------------------------


class MarkerFilter:
    """Passes output through, except the marker and the line end right after it.

    Output that might be the start of the marker is held back until it is clear."""

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.held = b""
        self.found = False
        self._line_end = b""  # what of "\r\n" may still follow the marker

    def feed(self, data: bytes) -> bytes:
        if self.found:
            return self._after(data)
        data = self.held + data
        at = data.find(self.marker)
        if at >= 0:
            self.found, self.held, self._line_end = True, b"", b"\r\n"
            return data[:at] + self._after(data[at + len(self.marker) :])
        keep = self._possible_start(data)
        self.held = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep]

    def flush(self) -> bytes:
        held, self.held = self.held, b""
        return held

    def _possible_start(self, data: bytes) -> int:
        for size in range(min(len(self.marker) - 1, len(data)), 0, -1):
            if data.endswith(self.marker[:size]):
                return size
        return 0

    def _after(self, data: bytes) -> bytes:
        while self._line_end and data:
            if data[:1] == self._line_end[:1]:
                data, self._line_end = data[1:], self._line_end[1:]
            elif data[:1] == b"\n":
                data, self._line_end = data[1:], b""
            else:
                self._line_end = b""
        return data


def _through_pty(argv: Sequence[str], handover: Handover, stdin: int, stdout: int) -> int:
    master, slave = os.openpty()
    try:
        _copy_size(stdin, master)
        proc = subprocess.Popen(
            [sys.executable, "-c", _TAKE_TERMINAL, *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        slave = -1
        CHILDREN.add(proc)
        try:
            with _raw(stdin), _size_follows(stdin, master):
                _Relay(master, stdin, stdout, handover).run(proc)
            return proc.wait()
        finally:
            CHILDREN.discard(proc)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


class _Relay:
    def __init__(self, master: int, stdin: int, stdout: int, handover: Handover) -> None:
        self.master = master
        self.stdin = stdin
        self.stdout = stdout
        self.payload = handover.payload
        self.filter = MarkerFilter(handover.marker)
        self.to_child = bytearray()
        self.handed_over = False
        self.stdin_open = True

    def run(self, proc: subprocess.Popen[bytes]) -> None:
        os.set_blocking(self.master, False)
        while True:
            readers = [self.master]
            if self.handed_over and self.stdin_open:
                readers.append(self.stdin)  # the user's keys wait until the payload is in
            writers = [self.master] if self.to_child else []
            ready, writable, _ = select.select(readers, writers, [], 0.1)
            if self.master in ready and not self._from_child():
                break
            if self.stdin in ready:
                self._from_user()
            if writable:
                self._to_child()
            if proc.poll() is not None:
                while self._from_child():
                    pass
                break
        _write_all(self.stdout, self.filter.flush())

    def _from_child(self) -> bool:
        """Relay what the program printed; False once there is nothing more to read."""
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return False
        except OSError as exc:  # EIO: every holder of the other side has closed it
            if exc.errno != errno.EIO:
                raise
            return False
        if not data:
            return False
        shown = self.filter.feed(data)
        if self.filter.found and not self.handed_over:
            self.handed_over = True
            self.to_child[:0] = self.payload
        _write_all(self.stdout, shown)
        return True

    def _from_user(self) -> None:
        try:
            data = os.read(self.stdin, 65536)
        except OSError:
            data = b""
        if data:
            self.to_child += data
        else:
            self.stdin_open = False

    def _to_child(self) -> None:
        try:
            written = os.write(self.master, self.to_child)
        except BlockingIOError:
            return
        del self.to_child[:written]


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        data = data[written:]


def _copy_size(source: int, target: int) -> None:
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # TCSANOW: keys typed ahead are kept, not flushed
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _size_follows(terminal: int, master: int) -> Iterator[None]:
    """SIGWINCH on the user's terminal: give the pseudo-terminal the same size, which
    signals the program in turn."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGWINCH, lambda signum, frame: _copy_size(terminal, master))
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


# ----- without a terminal ----------------------------------------------------------------


def _through_pipe(argv: Sequence[str], handover: Handover, stdin: int) -> int:
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE)
    pipe = proc.stdin
    if pipe is None:  # never: stdin=PIPE always gives one
        return wait_registered(proc)
    try:
        pipe.write(handover.payload)
        pipe.flush()
    except BrokenPipeError:
        pass  # it ended before reading: nothing more to give it
    else:
        threading.Thread(target=_copy_input, args=(stdin, pipe), daemon=True).start()
    return wait_registered(proc)


def _copy_input(source: int, pipe: IO[bytes]) -> None:
    try:
        while data := os.read(source, 65536):
            pipe.write(data)
            pipe.flush()
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError, ValueError):
        pipe.close()
