"""Run the real agsekit CLI with one thing happening while a snapshot copies its files:

    python during_copy.py ACTION AT PATH -- AGSEKIT-ARGS...

ACTION happens once, when AT files have been copied (0: once the last one is copied):
  grow:BYTES  append BYTES random bytes to the source file PATH (the source grows);
  space       fill the file system of PATH with the file PATH (another writer);
  inodes      fill the file system of PATH with empty files in the new folder PATH.

The moment comes from the reporter's progress call, which the engine makes after each
entry once the first file is copied: no timing, no race."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

from agsekit.cli import app, render


def act(action: str, path: Path) -> None:
    if action.startswith("grow:"):
        with open(path, "ab") as fh:
            fh.write(os.urandom(int(action.removeprefix("grow:"))))
    elif action == "space":
        _until_full(lambda: _append(path))
    elif action == "inodes":
        path.mkdir()
        names = (path / str(index) for index in range(1 << 30))
        _until_full(lambda: next(names).touch())
    else:
        raise SystemExit(f"unknown action {action}")


def _append(path: Path) -> None:
    with open(path, "ab", buffering=0) as fh:
        while True:
            fh.write(b"\0x" * 2048)


def _until_full(step: Callable[[], object]) -> None:
    try:
        while True:
            step()
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise


def main() -> None:
    action, at, path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    assert sys.argv[4] == "--"
    original = render.TerminalReporter.progress
    done: list[bool] = []

    def progress(
        self: render.TerminalReporter,
        done_files: int,
        total_files: int,
        done_bytes: int,
        total_bytes: int,
    ) -> None:
        if not done and done_files == (at or total_files):
            done.append(True)
            act(action, path)
        original(self, done_files, total_files, done_bytes, total_bytes)

    render.TerminalReporter.progress = progress  # type: ignore[method-assign]
    app.main(sys.argv[5:])


if __name__ == "__main__":
    main()
