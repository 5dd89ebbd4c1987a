"""What agsekit installed into each VM (agents.json, bundles.json in its state folder):
VM -> name -> {"version", "installed", ...}, read forgivingly and written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

Records = dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class Installed:
    vm: str
    name: str
    version: str | None
    fresh: bool  # installed by this run, not only found in place
    extra: dict[str, Any] = field(default_factory=dict)


def read(path: Path) -> Records:
    """The records, or none when the file is missing or not what agsekit writes."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(path: Path, found: Iterable[Installed]) -> None:
    """Note each version; `installed` (when) changes only when the version did or this
    run installed it."""
    data = read(path)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for item in found:
        entry = data.setdefault(item.vm, {}).setdefault(item.name, {})
        if entry.get("version") != item.version or item.fresh:
            entry.update({"version": item.version, "installed": stamp})
        entry.update(item.extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
