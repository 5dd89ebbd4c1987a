"""SIGTERM and SIGHUP stop agsekit the way Ctrl+C does: the work in progress is undone
cleanly (an unfinished snapshot removed, a restore's undo printed), and the exit code says
which signal it was (130, 143 or 129)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_received: list[int] = []


def exit_code_for_interrupt() -> int:
    """128 + the signal that stopped us (SIGINT when it was Ctrl+C)."""
    return 128 + (_received[-1] if _received else signal.SIGINT)


@contextmanager
def stops_as_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _received.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
