"""Standard output that fails in one clear way: a closed pipe or a full disk while
printing becomes OutputError (one line, `agsekit: error: cannot write output: ...`),
never a traceback; the exit code can still be the one the work itself earned."""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any


class OutputError(OSError):
    """Writing to standard output failed."""


# The exit code the work itself earned, set by commands (backup-once) before they print
# their summary: an output error then still exits with it.
earned_exit: list[int] = []


class GuardedStream(io.TextIOBase):
    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.failed: OSError | None = None

    def write(self, text: str) -> int:
        if self.failed is not None:
            raise OutputError(self.failed.errno, self.failed.strerror)
        try:
            return int(self._inner.write(text))
        except OSError as exc:
            self._fail(exc)
            raise OutputError(exc.errno, exc.strerror) from None

    def flush(self) -> None:
        if self.failed is not None:
            return
        try:
            self._inner.flush()
        except OSError as exc:
            self._fail(exc)
            raise OutputError(exc.errno, exc.strerror) from None

    def _fail(self, exc: OSError) -> None:
        self.failed = exc
        # what is left in the buffer can never be written: drop it, so that the
        # interpreter's own flush at exit does not fail again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._inner.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def isatty(self) -> bool:
        return bool(self._inner.isatty())

    def fileno(self) -> int:
        return int(self._inner.fileno())

    @property
    def buffer(self) -> Any:
        return self._inner.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(self._inner.encoding)

    def writable(self) -> bool:
        return True


def guard_stdout() -> GuardedStream:
    guarded = GuardedStream(sys.stdout)
    sys.stdout = guarded
    return guarded


def describe(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
