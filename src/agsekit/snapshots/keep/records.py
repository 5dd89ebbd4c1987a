"""The alarms' records of what was lost, kept in DEST/.agsekit/alarms/ID.json, so that
`backup-restore --lost-in ID` brings all of it back, each file from the newest snapshot
that holds it."""

from __future__ import annotations

import json
import os
from typing import Any

from agsekit.core.errors import UsageError
from agsekit.snapshots.engine.names import is_snapshot_name
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.restore.plan import Wanted
from agsekit.tools import root as fs

CAP = 64 << 20


def alarm_ids(store: Store) -> list[str]:
    try:
        names = os.listdir(store.state / "alarms")
    except OSError:
        return []
    return sorted(n[:-5] for n in names if n.endswith(".json") and is_snapshot_name(n[:-5]))


def lost_in_alarm(store: Store, alarm_id: str) -> list[Wanted]:
    ids = alarm_ids(store)
    if alarm_id == "latest" and ids:
        alarm_id = ids[-1]
    if alarm_id not in ids:
        known = ", ".join(ids[-5:]) or "none"
        raise UsageError(
            f"no alarm {alarm_id!r} is recorded in {store.dest}", hint=f"recorded alarms: {known}"
        )
    try:
        with fs.opened(fs.open_root(store.state / "alarms")) as fd:
            record: Any = json.loads(fs.read_regular(fd, f"{alarm_id}.json".encode(), CAP))
        lost = record["lost"]
        wanted = [
            Wanted(name, tuple(p.encode("utf-8", "surrogateescape") for p in paths))
            for name, paths in lost.items()
            if name in store.snapshot_names()
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"the record of alarm {alarm_id} cannot be read: {exc}") from None
    if not wanted:
        raise UsageError(f"the snapshots that alarm {alarm_id} kept are gone from {store.dest}")
    return wanted
