"""The alarm's own state, in DEST/.agsekit/alarm.json.

`baseline` is the snapshot the user last acknowledged as the state to measure losses
from: the one a mass-deletion alarm fired at (it was reported; further losses count from
there), the one an in-place restore brought back, or one the user pinned. `last` is the
last alarm raised, so that the same loss is not announced at every interval.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from agsekit.snapshots.engine.store import Store, write_atomic
from agsekit.tools import root as fs

CAP = 1 << 20


def _load(store: Store) -> dict[str, Any]:
    try:
        with fs.opened(fs.open_root(store.state)) as fd:
            data = json.loads(fs.read_regular(fd, b"alarm.json", CAP))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(store: Store, data: dict[str, Any]) -> None:
    write_atomic(store.state / "alarm.json", json.dumps(data, indent=2) + "\n")


def baseline(store: Store) -> tuple[str, str] | None:
    """(snapshot, ISO time it was set) when one is set and still exists."""
    data = _load(store).get("baseline")
    if not isinstance(data, dict):
        return None
    name, when = data.get("snapshot"), data.get("set")
    if not isinstance(name, str) or not isinstance(when, str):
        return None
    return (name, when) if name in store.snapshot_names() else None


def set_baseline(store: Store, name: str, why: str) -> None:
    """Record the acknowledged state; the caller holds the store's lock."""
    data = _load(store)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    data["baseline"] = {"snapshot": name, "why": why, "set": stamp}
    _save(store, data)


def last_alarm(store: Store) -> dict[str, Any]:
    last = _load(store).get("last")
    return last if isinstance(last, dict) else {}


def remember_alarm(store: Store, record: dict[str, Any]) -> None:
    data = _load(store)
    data["last"] = record
    _save(store, data)


def remembered_policy(store: Store) -> dict[str, Any] | None:
    """The alarm policy of the last config that loaded for this store (as written by
    remember_policy), for when the config does not load."""
    policy = _load(store).get("policy")
    return policy if isinstance(policy, dict) else None


def remember_policy(store: Store, record: dict[str, Any]) -> None:
    data = _load(store)
    if data.get("policy") != record:
        data["policy"] = record
        _save(store, data)
