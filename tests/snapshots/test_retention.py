"""Retention over synthetic stores: exact kept sets (golden tables) and invariants."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from agsekit.config.model import RetentionPolicy
from agsekit.snapshots.engine.names import format_name, parse_name
from agsekit.snapshots.keep.retention import Decision, SnapshotRef, plan_retention

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOTHING = RetentionPolicy(
    keep_within=timedelta(0), keep_hourly=0, keep_daily=0, keep_weekly=0, keep_monthly=0
)


def policy(
    *,
    within: timedelta = timedelta(0),
    hourly: int = 0,
    daily: int = 0,
    weekly: int = 0,
    monthly: int = 0,
) -> RetentionPolicy:
    return RetentionPolicy(within, hourly, daily, weekly, monthly)


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def year_store() -> list[SnapshotRef]:
    """A year of work, in UTC, oldest first:
    - 2025-12-01 .. 2026-06-30: every weekday at 09:00 and 17:00; weekends empty;
    - July 2026 and up to 2026-08-02: away, nothing;
    - 2026-08-03 .. 2026-11-27: every weekday every two hours from 08:00 to 18:00;
    - burst on Friday 2026-11-27: every 5 minutes from 14:05 to 14:55;
    - burst on Saturday 2026-11-28: every 10 minutes from 09:00 to 11:50.
    """
    times: list[datetime] = []
    for day in days(date(2025, 12, 1), date(2026, 6, 30)):
        if day.weekday() < 5:
            times += [at(day, 9), at(day, 17)]
    for day in days(date(2026, 8, 3), date(2026, 11, 27)):
        if day.weekday() < 5:
            times += [at(day, hour) for hour in range(8, 19, 2)]
    times += [at(date(2026, 11, 27), 14, minute) for minute in range(5, 60, 5)]
    times += [at(date(2026, 11, 28), 9 + i // 6, i % 6 * 10) for i in range(18)]
    return [SnapshotRef(format_name(moment), moment) for moment in sorted(times)]


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday


def kept(decisions: list[Decision]) -> set[str]:
    return {d.name for d in decisions if d.keep}


def plan(
    snapshots: list[SnapshotRef],
    rules: RetentionPolicy,
    *,
    now: datetime = NOW,
    protected: frozenset[str] = frozenset(),
    tz: tzinfo = UTC,
) -> list[Decision]:
    return plan_retention(snapshots, rules, now, protected=protected, tz=tz)


def test_store_shape() -> None:
    store = year_store()
    assert len(store) == 2 * 152 + 6 * 85 + 11 + 18
    assert store[0].name == "20251201T090000Z"
    assert store[-1].name == "20261128T115000Z"


# Golden tables: the exact names each policy keeps from year_store() at NOW, in UTC.

WITHIN_2H = {
    "20261128T101000Z",  # 10:00 is exactly 2h old: not younger, removed
    "20261128T102000Z",
    "20261128T103000Z",
    "20261128T104000Z",
    "20261128T105000Z",
    "20261128T110000Z",
    "20261128T111000Z",
    "20261128T112000Z",
    "20261128T113000Z",
    "20261128T114000Z",
    "20261128T115000Z",
}
DAILY_7 = {  # the weekend of Nov 21-22 has no snapshot, so it uses no slot
    "20261120T180000Z",
    "20261123T180000Z",
    "20261124T180000Z",
    "20261125T180000Z",
    "20261126T180000Z",
    "20261127T180000Z",
    "20261128T115000Z",
}
WEEKLY_4_MONTHLY_6 = {  # July (away) has no snapshot: May is the 6th month
    "20260529T170000Z",
    "20260630T170000Z",
    "20260831T180000Z",
    "20260930T180000Z",
    "20261030T180000Z",
    "20261106T180000Z",
    "20261113T180000Z",
    "20261120T180000Z",
    "20261128T115000Z",
}
MIXED = {
    "20260930T180000Z",  # monthly #3
    "20261030T180000Z",  # monthly #2
    "20261120T180000Z",  # weekly #2
    "20261126T180000Z",  # daily #3
    "20261127T145500Z",  # hourly #6: the newest of the 14h burst
    "20261127T160000Z",
    "20261127T180000Z",
    "20261128T095000Z",
    "20261128T105000Z",
    "20261128T111000Z",  # within 1h from here on
    "20261128T112000Z",
    "20261128T113000Z",
    "20261128T114000Z",
    "20261128T115000Z",
}
MONTHLY_12 = {  # only 11 months have a snapshot
    "20251231T170000Z",
    "20260130T170000Z",
    "20260227T170000Z",
    "20260331T170000Z",
    "20260430T170000Z",
    "20260529T170000Z",
    "20260630T170000Z",
    "20260831T180000Z",
    "20260930T180000Z",
    "20261030T180000Z",
    "20261128T115000Z",
}


def test_keep_within_only() -> None:
    assert kept(plan(year_store(), policy(within=timedelta(hours=2)))) == WITHIN_2H


def test_daily_counts_only_days_that_have_a_snapshot() -> None:
    assert kept(plan(year_store(), policy(daily=7))) == DAILY_7


def test_weekly_and_monthly_skip_the_month_away() -> None:
    assert kept(plan(year_store(), policy(weekly=4, monthly=6))) == WEEKLY_4_MONTHLY_6


def test_monthly_keeps_every_month_when_fewer_exist() -> None:
    assert kept(plan(year_store(), policy(monthly=12))) == MONTHLY_12


def test_mixed_policy_and_its_reasons() -> None:
    rules = policy(within=timedelta(hours=1), hourly=6, daily=3, weekly=2, monthly=3)
    decisions = plan(year_store(), rules)
    assert kept(decisions) == MIXED
    reasons = {d.name: d.reasons for d in decisions if d.keep}
    assert reasons["20261128T115000Z"] == (
        "newest",
        "within 1h",
        "hourly #1",
        "daily #1",
        "weekly #1",
        "monthly #1",
    )
    assert reasons["20261127T180000Z"] == ("hourly #4", "daily #2")
    assert reasons["20261127T145500Z"] == ("hourly #6",)
    assert reasons["20261128T111000Z"] == ("within 1h",)
    assert reasons["20260930T180000Z"] == ("monthly #3",)
    assert all(d.reasons == () for d in decisions if not d.keep)


def test_default_policy_boundaries() -> None:
    decisions = plan(year_store(), RetentionPolicy())
    reasons = {d.name: d.reasons for d in decisions}
    # 12 on Saturday + 45 more hourly + 21 more daily + 6 more weekly + 9 more monthly.
    assert len(kept(decisions)) == 93
    assert reasons["20261118T140000Z"] == ("hourly #48",)
    assert reasons["20261118T120000Z"] == ()
    assert reasons["20261020T180000Z"] == ("daily #30",)
    assert reasons["20261019T180000Z"] == ()
    assert reasons["20260911T180000Z"] == ("weekly #12",)
    assert reasons["20260904T180000Z"] == ()
    assert reasons["20251231T170000Z"] == ("monthly #11",)
    assert reasons["20251201T090000Z"] == ()


def test_nothing_policy_keeps_only_the_newest() -> None:
    assert kept(plan(year_store(), NOTHING)) == {"20261128T115000Z"}


def test_empty_store() -> None:
    assert plan([], RetentionPolicy()) == []


# Pinned and protected snapshots: always kept, and counted in the periods like any other.


def with_pins(store: list[SnapshotRef], *names: str) -> list[SnapshotRef]:
    return [SnapshotRef(s.name, s.time, pinned=s.name in names) for s in store]


def test_pinned_snapshot_that_is_not_its_days_newest_takes_no_slot() -> None:
    store = with_pins(year_store(), "20261127T100000Z", "20260115T090000Z")
    decisions = plan(store, policy(daily=7))
    assert kept(decisions) == DAILY_7 | {"20261127T100000Z", "20260115T090000Z"}
    reasons = {d.name: d.reasons for d in decisions}
    assert reasons["20261127T100000Z"] == ("pinned",)
    assert reasons["20260115T090000Z"] == ("pinned",)


def test_pinned_snapshot_that_is_its_days_newest_uses_that_days_slot() -> None:
    store = with_pins(year_store(), "20261127T180000Z")
    decisions = plan(store, policy(daily=7))
    assert kept(decisions) == DAILY_7  # Nov 19 does not move up into a freed slot
    assert {d.name: d.reasons for d in decisions}["20261127T180000Z"] == ("pinned", "daily #2")


def test_protected_snapshot_is_kept() -> None:
    protected = frozenset({"20261126T120000Z", "20250101T000000Z"})  # the second is unknown
    decisions = plan(year_store(), policy(daily=7), protected=protected)
    assert kept(decisions) == DAILY_7 | {"20261126T120000Z"}
    assert {d.name: d.reasons for d in decisions}["20261126T120000Z"] == ("protected",)


def test_decisions_follow_the_input_order() -> None:
    store = year_store()
    shuffled = store[1::2] + store[0::2]
    decisions = plan(shuffled, policy(daily=7))
    assert [d.name for d in decisions] == [s.name for s in shuffled]
    assert kept(decisions) == DAILY_7


# Local time: daily buckets are local calendar days, also across DST changes.


def hourly_refs(first: str, last: str, step: timedelta = timedelta(hours=1)) -> list[SnapshotRef]:
    moment, end = parse_name(first), parse_name(last)
    refs = []
    while moment <= end:
        refs.append(SnapshotRef(format_name(moment), moment))
        moment += step
    return refs


SPRING_DAILY_BERLIN = {
    "20260327T220000Z",  # 23:00 CET
    "20260328T220000Z",  # 23:00 CET
    "20260329T210000Z",  # 23:00 CEST: the 23-hour day
    "20260330T210000Z",
    "20260331T120000Z",
}


def test_daily_buckets_across_spring_forward() -> None:
    store = hourly_refs("20260327T120000Z", "20260331T120000Z")
    assert kept(plan(store, policy(daily=10), tz=BERLIN)) == SPRING_DAILY_BERLIN
    assert kept(plan(store, policy(daily=2), tz=BERLIN)) == {
        "20260330T210000Z",
        "20260331T120000Z",
    }


def test_daily_buckets_across_fall_back() -> None:
    store = hourly_refs("20261023T120000Z", "20261027T120000Z")
    assert kept(plan(store, policy(daily=10), tz=BERLIN)) == {
        "20261023T210000Z",  # 23:00 CEST
        "20261024T210000Z",  # 23:00 CEST
        "20261025T220000Z",  # 23:00 CET: the 25-hour day
        "20261026T220000Z",
        "20261027T120000Z",
    }


def test_the_repeated_hour_is_two_hourly_buckets() -> None:
    # 00:00Z-01:45Z on 2026-10-25 is 02:00-02:45 CEST, then 02:00-02:45 CET in Berlin.
    store = hourly_refs("20261025T000000Z", "20261025T014500Z", timedelta(minutes=15))
    assert kept(plan(store, policy(hourly=5), tz=BERLIN)) == {
        "20261025T004500Z",
        "20261025T014500Z",
    }


def test_hourly_buckets_in_a_half_hour_zone() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    store = hourly_refs("20261128T100000Z", "20261128T114000Z", timedelta(minutes=20))
    # Local 15:30, 15:50 | 16:10, 16:30, 16:50 | 17:10
    assert kept(plan(store, policy(hourly=5), tz=india)) == {
        "20261128T102000Z",  # 15:50
        "20261128T112000Z",  # 16:50
        "20261128T114000Z",  # 17:10
    }


def test_default_zone_is_the_system_local_zone() -> None:
    script = (
        "from datetime import datetime, timedelta, timezone\n"
        "from agsekit.config.model import RetentionPolicy\n"
        "from agsekit.snapshots.engine.names import format_name\n"
        "from agsekit.snapshots.keep.retention import SnapshotRef, plan_retention\n"
        "start = datetime(2026, 3, 27, 12, tzinfo=timezone.utc)\n"
        "times = [start + timedelta(hours=h) for h in range(97)]\n"
        "refs = [SnapshotRef(format_name(t), t) for t in times]\n"
        "rules = RetentionPolicy(timedelta(0), 0, 10, 0, 0)\n"
        "decisions = plan_retention(refs, rules, times[-1])\n"
        "print(' '.join(d.name for d in decisions if d.keep))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TZ": "Europe/Berlin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(result.stdout.split()) == SPRING_DAILY_BERLIN


# Invariants over random stores, policies, pins and zones.

ZONES: list[tzinfo] = [
    UTC,
    BERLIN,
    ZoneInfo("Australia/Lord_Howe"),  # DST moves clocks by 30 minutes
    timezone(timedelta(hours=5, minutes=30)),
]
BASE = datetime(2025, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    store: list[SnapshotRef]
    rules: RetentionPolicy
    now: datetime
    protected: frozenset[str]
    tz: tzinfo

    def plan(self, store: list[SnapshotRef] | None = None) -> list[Decision]:
        snapshots = self.store if store is None else store
        return plan_retention(snapshots, self.rules, self.now, protected=self.protected, tz=self.tz)


counts = st.integers(0, 6)
policies = st.builds(
    RetentionPolicy,
    keep_within=st.sampled_from([timedelta(0), timedelta(minutes=30), timedelta(days=2)]),
    keep_hourly=counts,
    keep_daily=counts,
    keep_weekly=counts,
    keep_monthly=counts,
)


@st.composite
def cases(draw: st.DrawFn, rules: st.SearchStrategy[RetentionPolicy] = policies) -> Case:
    span = draw(st.sampled_from([3 * 3600, 3 * 86400, 40 * 86400, 400 * 86400]))
    offsets = draw(st.lists(st.integers(0, span), min_size=1, max_size=40, unique=True))
    pins = draw(st.lists(st.integers(0, 9), min_size=len(offsets), max_size=len(offsets)))
    times = sorted(BASE + timedelta(seconds=o) for o in offsets)
    store = [
        SnapshotRef(format_name(t), t, pinned=p == 0) for t, p in zip(times, pins, strict=True)
    ]
    protected = draw(st.sets(st.sampled_from([s.name for s in store]), max_size=2))
    ahead = draw(st.integers(-3600, 3 * 86400))
    return Case(
        store,
        draw(rules),
        times[-1] + timedelta(seconds=ahead),
        frozenset(protected),
        draw(st.sampled_from(ZONES)),
    )


def always_kept(case: Case) -> set[str]:
    pinned = {s.name for s in case.store if s.pinned}
    return {case.store[-1].name} | pinned | (case.protected & {s.name for s in case.store})


@given(cases())
def test_one_decision_per_snapshot_and_the_untouchables_are_kept(case: Case) -> None:
    decisions = case.plan()
    assert [d.name for d in decisions] == [s.name for s in case.store]
    assert all(d.keep == bool(d.reasons) for d in decisions)
    assert always_kept(case) <= kept(decisions)


@given(cases())
def test_planning_again_on_the_survivors_removes_nothing(case: Case) -> None:
    decisions = case.plan()
    survivors = [s for s, d in zip(case.store, decisions, strict=True) if d.keep]
    again = case.plan(survivors)
    assert all(d.keep for d in again)
    assert again == [d for d in decisions if d.keep]  # the same reasons, the same ranks


def local_period_keys(tz: tzinfo) -> dict[str, Callable[[datetime], Hashable]]:
    def hour(t: datetime) -> Hashable:
        local = t.astimezone(tz)
        return (local.date(), local.hour, local.utcoffset())

    return {
        "hourly": hour,
        "daily": lambda t: t.astimezone(tz).date(),
        "weekly": lambda t: t.astimezone(tz).isocalendar()[:2],
        "monthly": lambda t: (t.astimezone(tz).year, t.astimezone(tz).month),
    }


@given(cases())
def test_each_rule_keeps_the_newest_of_the_last_n_periods(case: Case) -> None:
    decisions = case.plan()
    limits = {
        "hourly": case.rules.keep_hourly,
        "daily": case.rules.keep_daily,
        "weekly": case.rules.keep_weekly,
        "monthly": case.rules.keep_monthly,
    }
    for label, key in local_period_keys(case.tz).items():
        newest_by_period: dict[Hashable, SnapshotRef] = {}
        for ref in case.store:  # oldest first, so the last one written is the newest
            newest_by_period[key(ref.time)] = ref
        expected = sorted(newest_by_period.values(), key=lambda r: r.time, reverse=True)
        expected = expected[: limits[label]]
        ranked = {
            int(reason.split("#")[1]): d.name
            for d in decisions
            for reason in d.reasons
            if reason.startswith(label + " #")
        }
        assert len(ranked) <= limits[label]
        assert [ranked[k] for k in sorted(ranked)] == [r.name for r in expected]


@given(cases())
def test_within_keeps_exactly_the_young_ones(case: Case) -> None:
    label = "within "
    young = {
        s.name
        for s in case.store
        if case.rules.keep_within and s.time > case.now - case.rules.keep_within
    }
    tagged = {d.name for d in case.plan() if any(r.startswith(label) for r in d.reasons)}
    assert tagged == young


@given(cases(rules=st.just(NOTHING)))
def test_a_policy_of_zeros_keeps_only_newest_pinned_and_protected(case: Case) -> None:
    assert kept(case.plan()) == always_kept(case)


@given(cases(), policies)
def test_a_larger_policy_keeps_a_superset(case: Case, extra: RetentionPolicy) -> None:
    rules = case.rules
    larger = RetentionPolicy(
        max(rules.keep_within, extra.keep_within),
        rules.keep_hourly + extra.keep_hourly,
        rules.keep_daily + extra.keep_daily,
        rules.keep_weekly + extra.keep_weekly,
        rules.keep_monthly + extra.keep_monthly,
    )
    bigger = Case(case.store, larger, case.now, case.protected, case.tz)
    assert kept(case.plan()) <= kept(bigger.plan())
