"""A hostile agent's racing process: swaps two entries of a project as fast as it can.

Run as a script: `racer.py MAX_ATTEMPTS SECONDS A1 B1 [A2 B2 ...]`. It exchanges the
names of each pair atomically with renameat2(RENAME_EXCHANGE) (glibc >= 2.28), one pair
after the other, until it has tried MAX_ATTEMPTS times, SECONDS have passed or it gets
SIGTERM; then it puts every pair back as it was at its start (so the test knows which is
which) and prints `ATTEMPTS SWAPS` on one line. It writes "ready" on stdout first.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def main(argv: list[str]) -> int:
    limit, seconds = int(argv[0]), float(argv[1])
    names = [os.fsencode(name) for name in argv[2:]]
    pairs = list(zip(names[::2], names[1::2], strict=True))
    swapped = [0] * len(pairs)
    libc = ctypes.CDLL(None, use_errno=True)
    exchange = libc.renameat2
    text, number = ctypes.c_char_p, ctypes.c_int
    exchange.argtypes = [number, text, number, text, ctypes.c_uint]
    stop = [False]

    def on_term(_signum: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    attempts = swaps = 0
    while not stop[0] and attempts < limit:
        index = attempts % len(pairs)
        attempts += 1
        first, second = pairs[index]
        if exchange(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE) == 0:
            swaps += 1
            swapped[index] += 1
        if attempts % 256 == 0 and time.monotonic() > deadline:
            break
    for (first, second), count in zip(pairs, swapped, strict=True):
        if count % 2:
            exchange(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE)
    print(attempts, swaps, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
