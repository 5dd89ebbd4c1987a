"""du adapter: the disk space a folder uses, hard links counted once."""

from __future__ import annotations

from pathlib import Path

from agsekit.core.errors import AgsekitError
from agsekit.tools.runner import run, which


def disk_usage(folder: Path) -> int | None:
    """Bytes used by folder (du -sk counts each hard-linked file once), None if unknown."""
    program = which("du")
    if program is None:
        return None
    try:
        result = run([program, "-sk", str(folder)], check=False, timeout=600)
    except (AgsekitError, OSError):
        return None
    fields = result.stdout.split()
    if result.returncode != 0 or not fields or not fields[0].isdigit():
        return None
    return int(fields[0]) * 1024
