"""Default `.backupignore` files for common stacks: what each rebuilds from its sources,
and so what snapshots need not keep."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

STACKS: dict[str, tuple[str, ...]] = {
    "node": ("node_modules/", ".npm/", ".next/", ".nuxt/", "dist/", "coverage/"),
    "python": (
        "__pycache__/",
        "*.pyc",
        ".venv/",
        "venv/",
        ".tox/",
        ".mypy_cache/",
        ".pytest_cache/",
        ".ruff_cache/",
        "*.egg-info/",
    ),
    "rust": ("target/",),
    "go": ("vendor/", "bin/"),
}
# A file in the source's top folder that tells which stack it uses.
_MARKERS = {
    "node": ("package.json",),
    "python": ("pyproject.toml", "setup.py", "requirements.txt"),
    "rust": ("Cargo.toml",),
    "go": ("go.mod",),
}
IGNORE_NAME = ".backupignore"


def detected_stacks(source: Path) -> list[str]:
    return [stack for stack, names in _MARKERS.items() if any((source / n).exists() for n in names)]


def ignore_text(stacks: Sequence[str]) -> str:
    parts = ["# Left out of agsekit's snapshots (gitignore syntax); written by config-gen.\n"]
    for stack in stacks:
        parts.append(f"\n# {stack}\n" + "".join(f"{pattern}\n" for pattern in STACKS[stack]))
    return "".join(parts)


def write_default_ignore(source: Path, stacks: Sequence[str]) -> Path | None:
    """Write source/.backupignore for these stacks unless one exists; its path if written."""
    path = source / IGNORE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(ignore_text(stacks))
    return path
