"""Retention after a long pause (the service was off, the machine asleep): the rules count
periods that have a snapshot, not calendar time, so a pause never empties a store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agsekit.config.model import RetentionPolicy
from agsekit.snapshots.keep.retention import SnapshotRef, plan_retention

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def history() -> list[SnapshotRef]:
    """Every 5 minutes for a working day, on each of 120 days."""
    refs = []
    for day in range(120):
        for step in range(0, 8 * 60, 5):
            moment = START + timedelta(days=day, minutes=step)
            refs.append(SnapshotRef(moment.strftime("%Y%m%dT%H%M%SZ"), moment))
    return refs


def kept_after(pause: timedelta) -> set[str]:
    refs = history()
    refs = plan_kept(refs, refs[-1].time + timedelta(minutes=5))  # as the store stood
    now = refs[-1].time + pause
    new = SnapshotRef(now.strftime("%Y%m%dT%H%M%SZ"), now)
    return {r.name for r in plan_kept([*refs, new], now)}


def plan_kept(refs: list[SnapshotRef], now: datetime) -> list[SnapshotRef]:
    decisions = plan_retention(refs, RetentionPolicy(), now, tz=timezone.utc)
    return [r for r, d in zip(refs, decisions, strict=True) if d.keep]


@pytest.mark.parametrize("pause", [timedelta(days=40), timedelta(days=365), timedelta(days=3650)])
def test_a_long_pause_removes_no_more_than_a_short_one(pause: timedelta) -> None:
    short = kept_after(timedelta(days=2))
    long = kept_after(pause)
    assert len(long) >= len(short) - 2, (len(short), len(long))  # a new month/week slot
    before = {r.name for r in plan_kept(history(), history()[-1].time + timedelta(minutes=5))}
    # everything kept before the pause by the daily, weekly and monthly rules survives,
    # except the oldest slot of each rule that the one new snapshot takes over
    assert len(before - long) <= 4 + 24, len(before - long)  # + the keep_within window
