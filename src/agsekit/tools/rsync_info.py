"""What rsync is installed (the snapshot engine's adapter lives in tools/rsync.py)."""

from __future__ import annotations

import re

from agsekit.tools.runner import run, which


def rsync_version() -> str | None:
    """The installed rsync's version (e.g. "3.2.7"), or None when rsync is missing."""
    if which("rsync") is None:
        return None
    result = run(["rsync", "--version"], check=False, what="rsync --version")
    match = re.search(r"version\s+(\S+)", result.stdout)
    return match.group(1) if match else "unknown"
