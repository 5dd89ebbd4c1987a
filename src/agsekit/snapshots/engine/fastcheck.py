"""The fast "nothing changed" answer: compare a metadata fingerprint of the source with the
one recorded when the latest snapshot (or the latest no-change check) was made.

The fingerprint is always taken *before* the walk that it vouches for, so a change that
happens during or after that walk makes the next fingerprint differ. It covers ignored
files too (touching one costs a full walk, which then finds no change and records a fresh
fingerprint), and skips folders that the last walk found excluded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agsekit.snapshots.engine.store import write_atomic
from agsekit.tools import root as fs
from agsekit.tools.find import tree_fingerprint

_VERSION = 1
_CAP = 16 << 20  # the state file: 64 pruned paths at most, however long
_MAX_PRUNED = 64  # beyond this, walking the excluded folders is cheaper than find's tests


@dataclass(frozen=True)
class FastCheckState:
    context: str  # source, store and --exclude patterns this state is valid for
    prune: tuple[bytes, ...]  # folders (relative to source) find skips
    fingerprint: str | None  # None: not known yet
    snapshot: str | None  # the latest snapshot this state vouches for


def context_key(source: bytes, dest: Path, excludes: Sequence[str]) -> str:
    raw = json.dumps([_VERSION, source.decode("utf-8", "surrogateescape"), str(dest), *excludes])
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def load_state(path: Path) -> FastCheckState | None:
    try:
        # a regular file only, never through a symlink, never blocking (a FIFO put there
        # by an agent that can reach a store inside the source would hang the snapshot)
        with fs.opened(fs.open_root(path.parent)) as folder:
            data: Any = json.loads(fs.read_regular(folder, os.fsencode(path.name), _CAP))
        return FastCheckState(
            data["context"],
            tuple(p.encode("utf-8", "surrogateescape") for p in data["prune"]),
            data["fingerprint"],
            data["snapshot"],
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_state(path: Path, state: FastCheckState) -> None:
    data = {
        "context": state.context,
        "prune": [p.decode("utf-8", "surrogateescape") for p in state.prune],
        "fingerprint": state.fingerprint,
        "snapshot": state.snapshot,
    }
    write_atomic(path, json.dumps(data) + "\n")


def prune_list(excluded_dirs: Sequence[bytes]) -> tuple[bytes, ...]:
    dirs = list(excluded_dirs)
    if len(dirs) > _MAX_PRUNED:
        dirs = []
    return tuple(sorted(dirs))


def fingerprint(source: bytes, prune: Sequence[bytes]) -> str | None:
    return tree_fingerprint(source, prune)
