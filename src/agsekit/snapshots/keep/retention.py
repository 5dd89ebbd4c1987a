"""Which snapshots retention keeps: a pure function of the snapshot list, the policy and `now`.

Semantics (modelled on restic's `forget` and borg's `prune`):

- keep_within: every snapshot whose time is after `now - keep_within` is kept (relative to
  `now`, where restic measures from the latest snapshot). A keep_within of zero disables
  the rule. Snapshots dated in the future (clock skew) count as young.
- keep_hourly / keep_daily / keep_weekly / keep_monthly = N: snapshots are grouped into
  periods of local time in `tz` (default: the system's local zone). Only periods that hold
  at least one snapshot exist; they are ranked newest first by their newest snapshot, and
  the newest snapshot of each of the first N periods is kept ("daily #1" is the most recent
  day that has a snapshot, wherever it lies relative to `now`). A gap of a month away
  therefore does not use up daily slots. Days are local calendar days (23 or 25 hours long
  across DST changes); weeks are ISO weeks (Monday to Sunday, keyed by ISO year and week);
  months are calendar months. An hour is a local wall-clock hour together with its UTC
  offset, so the hour repeated when clocks go back is two distinct hours.
- The newest snapshot, every pinned snapshot and every name in `protected` (the snapshot a
  running snapshot links against) are always kept.

Pinned and protected snapshots take part in the period counting exactly like any other
snapshot, as restic does for snapshots kept by `--keep-tag`: a pinned snapshot that is the
newest of its day is also that day's daily keep and consumes one of the keep_daily slots;
a pinned snapshot that is not the newest of its day consumes nothing. Pinning is an extra
reason to keep, never a change to which snapshots the other rules select. The same holds
for snapshots kept by keep_within and for the newest snapshot.

Unlike newer restic and borg releases, the oldest snapshot is not kept additionally when a
rule has unused slots: the policy keeps exactly what the rules above select.

Reasons, in this order: "newest", "pinned", "protected", "within 2h", "hourly #3",
"daily #1", "weekly #2", "monthly #12" (#1 is the most recent period with a snapshot).

Applying a plan and planning again on the survivors (with the same `now`) removes nothing
and gives the same reasons: every period whose newest snapshot was kept still holds it,
and a period that loses all its snapshots ranked below all of those, so the first N
periods and their newest snapshots are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from agsekit.config.model import RetentionPolicy
from agsekit.core.durations import format_duration


@dataclass(frozen=True)
class SnapshotRef:
    name: str
    time: datetime  # aware; agsekit.snapshots.engine.names.parse_name gives UTC
    pinned: bool = False


@dataclass(frozen=True)
class Decision:
    name: str
    keep: bool
    reasons: tuple[str, ...]  # why kept, in a fixed order; empty when removed


PeriodKey = Callable[[datetime], Hashable]


def _hour(local: datetime) -> Hashable:
    return (local.date(), local.hour, local.utcoffset())


def _day(local: datetime) -> Hashable:
    return local.date()


def _week(local: datetime) -> Hashable:
    iso = local.isocalendar()
    return (iso[0], iso[1])


def _month(local: datetime) -> Hashable:
    return (local.year, local.month)


def _period_rules(policy: RetentionPolicy) -> list[tuple[str, int, PeriodKey]]:
    return [
        ("hourly", policy.keep_hourly, _hour),
        ("daily", policy.keep_daily, _day),
        ("weekly", policy.keep_weekly, _week),
        ("monthly", policy.keep_monthly, _month),
    ]


def _to_local(moment: datetime, tz: tzinfo | None) -> datetime:
    # astimezone() without an argument converts to the system zone with the offset that
    # applied at that moment, so DST is honoured even without a zoneinfo object.
    return moment.astimezone(tz) if tz is not None else moment.astimezone()


def _period_keeps(
    snapshots: Sequence[SnapshotRef],
    newest_first: list[int],
    rule: tuple[str, int, PeriodKey],
    tz: tzinfo | None,
) -> dict[int, str]:
    """Index -> "label #rank" for the newest snapshot of each of the last N periods."""
    label, count, key = rule
    kept: dict[int, str] = {}
    seen: set[Hashable] = set()
    for index in newest_first:
        if len(seen) >= count:
            break
        period = key(_to_local(snapshots[index].time, tz))
        if period not in seen:
            seen.add(period)
            kept[index] = f"{label} #{len(seen)}"
    return kept


def plan_retention(
    snapshots: Sequence[SnapshotRef],
    policy: RetentionPolicy,
    now: datetime,
    *,
    protected: frozenset[str] = frozenset(),
    tz: tzinfo | None = None,
) -> list[Decision]:
    """One Decision per snapshot, in the order given; see the module docstring for the rules."""
    if not snapshots:
        return []
    newest_first = sorted(
        range(len(snapshots)),
        key=lambda i: (snapshots[i].time, snapshots[i].name),
        reverse=True,
    )
    within = policy.keep_within
    within_reason = f"within {format_duration(within)}"
    period_keeps = [
        _period_keeps(snapshots, newest_first, rule, tz) for rule in _period_rules(policy)
    ]

    decisions = []
    for index, ref in enumerate(snapshots):
        reasons: list[str] = []
        if index == newest_first[0]:
            reasons.append("newest")
        if ref.pinned:
            reasons.append("pinned")
        if ref.name in protected:
            reasons.append("protected")
        if within.total_seconds() > 0 and ref.time > now - within:
            reasons.append(within_reason)
        reasons.extend(kept[index] for kept in period_keeps if index in kept)
        decisions.append(Decision(name=ref.name, keep=bool(reasons), reasons=tuple(reasons)))
    return decisions
