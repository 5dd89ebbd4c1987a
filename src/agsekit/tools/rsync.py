"""rsync adapter: copies a given list of files from a source tree into a new snapshot."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agsekit.tools.runner import require, stream

INSTALL_HINT = "install rsync (Debian/Ubuntu: sudo apt install rsync; macOS: brew install rsync)"
VANISHED = 24  # some source files vanished before they could be copied: normal for a live tree
PARTIAL = 23  # some files could not be read or written

# progress2 lines: "  1,234,567  45%  1.23MB/s  0:00:01 (xfr#12, to-chk=88/100)"
_PROGRESS = re.compile(rb"^\s*([\d,]+)\s+\d+%(?:.*xfr#(\d+))?")


@dataclass(frozen=True)
class CopyOutcome:
    returncode: int
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode in (0, VANISHED)


def copy_listed(
    source: bytes,
    dest: bytes,
    list_file: Path,
    on_progress: Callable[[int, int], None] | None = None,
) -> CopyOutcome:
    """Copy the NUL-separated relative paths in list_file from source into dest, keeping
    modes, times and (as root) owners. Parent folders must already exist in dest; their
    attributes are the caller's business (--no-implied-dirs)."""
    return _copy_listed(source, dest, list_file, on_progress, [])


def restore_listed(
    snapshot: bytes,
    dest: bytes,
    list_file: Path,
    on_progress: Callable[[int, int], None] | None = None,
) -> CopyOutcome:
    """Copy the listed files out of a snapshot into dest (a live tree or a restore folder).

    Every listed file is copied, even when size and time match (the caller compared the
    contents); files are written to a temporary name and renamed over the old one, so a
    file that shares its inode elsewhere is replaced, never rewritten. Parent folders must
    exist as real folders in dest."""
    return _copy_listed(snapshot, dest, list_file, on_progress, ["--ignore-times"])


def _copy_listed(
    source: bytes,
    dest: bytes,
    list_file: Path,
    on_progress: Callable[[int, int], None] | None,
    extra: list[str],
) -> CopyOutcome:
    rsync = require("rsync", INSTALL_HINT)
    argv: list[str | bytes] = [
        rsync,
        "--archive",
        *extra,
        "--no-implied-dirs",
        "--from0",
        f"--files-from={list_file}",
        "--info=progress2",
        "--no-human-readable",
        source.rstrip(b"/") + b"/",
        dest.rstrip(b"/") + b"/",
    ]
    buffer = b""
    files_done = 0

    def on_chunk(chunk: bytes) -> None:
        nonlocal buffer, files_done
        if on_progress is None:
            return
        buffer += chunk
        *lines, buffer = re.split(rb"[\r\n]", buffer)
        for line in lines:
            match = _PROGRESS.match(line)
            if match:
                files_done = int(match.group(2) or files_done)
                on_progress(int(match.group(1).replace(b",", b"")), files_done)

    result = stream(argv, on_chunk)
    return CopyOutcome(result.returncode, result.stderr)


def rsync_words(stderr: str) -> str:
    """rsync's own explanation, without its boilerplate trailer lines."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line.startswith("rsync error: some files")
    ]
    return " / ".join(lines[-4:]) or "no message"


def describe_failure(outcome: CopyOutcome) -> str:
    if outcome.returncode < 0:
        return f"rsync was stopped by signal {-outcome.returncode}"
    return f"rsync failed (exit {outcome.returncode}): {rsync_words(outcome.stderr)}"
