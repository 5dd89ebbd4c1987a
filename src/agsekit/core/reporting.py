"""How domain code tells the user what is happening without knowing about terminals.

The CLI passes a Reporter implementation in; tests pass a RecordingReporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Reporter(Protocol):
    def info(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...

    def progress(
        self, done_files: int, total_files: int, done_bytes: int, total_bytes: int
    ) -> None:
        """Called repeatedly during long copies; a terminal shows it, a pipe ignores it."""
        ...

    def progress_done(self) -> None: ...


@dataclass
class RecordingReporter:
    """Keeps every message; used by tests and by --json output paths."""

    infos: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    progress_calls: int = 0

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def progress(
        self, done_files: int, total_files: int, done_bytes: int, total_bytes: int
    ) -> None:
        self.progress_calls += 1

    def progress_done(self) -> None:
        pass
