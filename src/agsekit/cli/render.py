"""Terminal output: the Reporter the CLI hands to domain code, and JSON printing."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from typing import Any, TextIO

from agsekit.core.display import format_bytes

__all__ = ["TerminalReporter", "format_bytes", "print_json"]


class TerminalReporter:
    """Messages to stdout/stderr; a live progress line only when stderr is a terminal."""

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        prefix: str | None = None,
        progress: bool = True,
        quiet_info: bool = False,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.prefix = f"[{prefix}] " if prefix else ""
        self.quiet_info = quiet_info
        self.interactive = progress and self.err.isatty()
        self._lock = threading.Lock()
        self._progress: Any = None
        self._task: Any = None

    def info(self, message: str) -> None:
        if self.quiet_info:
            return
        self._write(self.out, f"{self.prefix}{message}")

    def warning(self, message: str) -> None:
        self._write(self.err, f"{self.prefix}warning: {message}")

    def _write(self, stream: TextIO, text: str) -> None:
        """Never raises: work in progress must not depend on its output (a closed pipe,
        a full disk); the CLI reports a failed stdout once, at the end."""
        self._pause_progress()
        with self._lock, contextlib.suppress(OSError, ValueError):
            print(text, file=stream, flush=True)

    def progress(
        self, done_files: int, total_files: int, done_bytes: int, total_bytes: int
    ) -> None:
        if not self.interactive:
            return
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("copying"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TextColumn("{task.fields[files]} files"),
                TimeRemainingColumn(),
                console=Console(file=self.err),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("copy", total=max(total_bytes, 1), files="")
        self._progress.update(
            self._task,
            completed=done_bytes,
            total=max(total_bytes, 1),
            files=f"{done_files}/{total_files}",
        )

    def progress_done(self) -> None:
        self._pause_progress()

    def _pause_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
