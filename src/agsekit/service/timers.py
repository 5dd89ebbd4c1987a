"""When the service checks a mount: a pure function of what happened and when.

Times are seconds on one clock (the service uses time.monotonic()). After a change the
check waits until the tree has been quiet for `debounce`, but never longer than
`max_delay` after the first change of the batch, and never sooner than `min_interval`
after the start of the mount's last snapshot. The safety-net check runs every `interval`
whatever the events say; after a sleep or a start it is due at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from agsekit.config.model import Timing

Why = Literal["change", "interval"]


@dataclass(frozen=True)
class Pending:
    """Changes seen since the last check started."""

    first: float
    last: float
    count: int


@dataclass(frozen=True)
class Schedule:
    next_full: float  # when the safety-net check is due
    pending: Pending | None = None
    last_snapshot: float | None = None  # when the last check that took a snapshot started


def changed(schedule: Schedule, now: float, count: int = 1) -> Schedule:
    """One or more changes seen at `now`."""
    old = schedule.pending
    pending = (
        Pending(now, now, count) if old is None else Pending(old.first, now, old.count + count)
    )
    return replace(schedule, pending=pending)


def due(schedule: Schedule, timing: Timing) -> tuple[float, Why]:
    """When the next check is due, and why."""
    pending = schedule.pending
    if pending is None:
        return schedule.next_full, "interval"
    at = min(pending.last + timing.debounce, pending.first + timing.max_delay)
    if schedule.last_snapshot is not None:
        at = max(at, schedule.last_snapshot + timing.min_interval)
    if at <= schedule.next_full:
        return at, "change"
    return schedule.next_full, "interval"


def started(schedule: Schedule) -> Schedule:
    """A check starts: it covers every change seen so far (it walks the whole tree)."""
    return replace(schedule, pending=None)


def finished(
    schedule: Schedule, *, began: float, ended: float, interval: float, created: bool
) -> Schedule:
    """A check that began at `began` ended: the next safety net is an interval away."""
    last = began if created else schedule.last_snapshot
    return replace(schedule, next_full=ended + interval, last_snapshot=last)


def woke(schedule: Schedule, now: float) -> Schedule:
    """The machine slept (or the clock jumped): check at once."""
    return replace(schedule, next_full=min(schedule.next_full, now))
