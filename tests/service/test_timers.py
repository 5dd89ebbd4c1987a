"""The service's timers as a pure function: debounce, max_delay, min_interval, the net."""

from __future__ import annotations

import pytest

from agsekit.config.model import Timing
from agsekit.service import timers

T = Timing(debounce=10, max_delay=60, min_interval=30)


def after(*changes: float, next_full: float = 300, last: float | None = None) -> timers.Schedule:
    schedule = timers.Schedule(next_full=next_full, last_snapshot=last)
    for moment in changes:
        schedule = timers.changed(schedule, moment)
    return schedule


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (after(), (300, "interval")),  # nothing changed: the safety net
        (after(100), (110, "change")),  # quiet for the debounce
        (after(100, 105, 108), (118, "change")),  # each change restarts the debounce
        (after(*range(100, 200, 5)), (160, "change")),  # never quiet: max_delay wins
        (after(100, last=95), (125, "change")),  # min_interval after the last snapshot
        (after(100, next_full=104), (104, "interval")),  # the net comes first and covers it
    ],
)
def test_due(schedule: timers.Schedule, expected: tuple[float, str]) -> None:
    assert timers.due(schedule, T) == expected


def test_a_check_covers_the_changes_seen_before_it_started() -> None:
    schedule = timers.started(after(100, 101))
    assert schedule.pending is None
    schedule = timers.changed(schedule, 112)  # during the check: another check follows
    done = timers.finished(schedule, began=111, ended=113, interval=300, created=True)
    assert done.next_full == 413 and done.last_snapshot == 111
    assert timers.due(done, T) == (141, "change")  # 111 + min_interval


def test_an_unchanged_check_does_not_count_for_min_interval() -> None:
    done = timers.finished(after(last=50), began=100, ended=101, interval=300, created=False)
    assert done.last_snapshot == 50


def test_after_a_sleep_the_check_is_due_at_once() -> None:
    assert timers.due(timers.woke(after(next_full=900), 400), T) == (400, "interval")
    assert timers.woke(after(next_full=100), 400).next_full == 100


def test_pending_counts_changes() -> None:
    schedule = timers.changed(after(100), 101, count=41)
    assert schedule.pending == timers.Pending(100, 101, 42)
