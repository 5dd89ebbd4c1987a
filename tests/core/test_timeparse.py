"""Reading typed times and showing times and ages, in a fixed zone (Europe/Berlin has DST)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from agsekit.core.timeparse import format_local, humanize_age, parse_when

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)  # 13:00 in Berlin (CET, +01:00)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28 10:00", utc("2026-11-28 09:00:00")),
        ("2026-11-28T10:00:05", utc("2026-11-28 09:00:05")),
        ("2026-11-28 10:00:05.25", utc("2026-11-28 09:00:05.250000")),
        ("2026-11-28", utc("2026-11-27 23:00:00")),
        ("2026-07-01 10:00", utc("2026-07-01 08:00:00")),  # summer time, +02:00
        ("2026-11-28T10:00:05+02:00", utc("2026-11-28 08:00:05")),
        ("2026-11-28T10:00:05Z", utc("2026-11-28 10:00:05")),
        ("2026-11-28 10:00z", utc("2026-11-28 10:00:00")),
        ("2026-11-28 10:00 +0530", utc("2026-11-28 04:30:00")),
        ("2026-11-28T10:00-03", utc("2026-11-28 13:00:00")),
        ("  2026-11-28   10:00 ", utc("2026-11-28 09:00:00")),
    ],
)
def test_iso_local_and_with_offset(text: str, expected: datetime) -> None:
    moment = parse_when(text, NOW, BERLIN)
    assert moment.tzinfo is UTC
    assert moment == expected


def test_ambiguous_local_time_reads_as_the_earlier_one() -> None:
    # 02:30 happens twice on 2026-10-25 in Berlin: first in CEST (00:30Z), then in CET.
    assert parse_when("2026-10-25 02:30", NOW, BERLIN) == utc("2026-10-25 00:30:00")


def test_skipped_local_time_uses_the_offset_before_the_change() -> None:
    # 02:30 never happens on 2026-03-29 in Berlin; read with CET it is 01:30Z (03:30 CEST).
    moment = parse_when("2026-03-29 02:30", NOW, BERLIN)
    assert moment == utc("2026-03-29 01:30:00")
    assert format_local(moment, BERLIN) == "2026-03-29 03:30:00"


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("now", timedelta(0)),
        ("NOW", timedelta(0)),
        ("15 minutes ago", timedelta(minutes=15)),
        ("1 minute ago", timedelta(minutes=1)),
        ("2h ago", timedelta(hours=2)),
        ("2H AGO", timedelta(hours=2)),
        ("2 hours ago", timedelta(hours=2)),
        ("1d ago", timedelta(days=1)),
        ("1d12h ago", timedelta(days=1, hours=12)),
        ("1 week ago", timedelta(weeks=1)),
        ("  90m   ago ", timedelta(minutes=90)),
    ],
)
def test_relative(text: str, ago: timedelta) -> None:
    assert parse_when(text, NOW, BERLIN) == NOW - ago


def test_yesterday_is_the_same_wall_clock_time_one_day_back() -> None:
    assert parse_when("yesterday", NOW, BERLIN) == NOW - timedelta(days=1)
    # Across the spring-forward night the local day before was 23 hours long.
    evening = datetime(2026, 3, 29, 20, 0, tzinfo=BERLIN)
    before = parse_when("Yesterday", evening, BERLIN)
    assert format_local(before, BERLIN) == "2026-03-28 20:00:00"
    assert evening - before == timedelta(hours=23)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "empty time"),
        ("   ", "empty time"),
        ("tomorrow", "cannot read time 'tomorrow'"),
        ("2h", "cannot read time '2h'"),
        ("ago", "cannot read time 'ago'"),
        ("5 parsecs ago", "unknown unit"),
        ("ten minutes ago", "not a duration"),
        ("2026-13-01", "cannot read time '2026-13-01'"),
        ("2026-02-30 10:00", "cannot read time"),
        ("2026-11-28 25:00", "hour must be"),
        ("2026-11-28 10:00+25:00", "not a UTC offset"),
        ("28.11.2026", "cannot read time"),
    ],
)
def test_bad_input_says_what_is_accepted(text: str, detail: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_when(text, NOW, BERLIN)
    message = str(info.value)
    assert detail in message
    assert "'2026-11-28 10:00'" in message
    assert "'15 minutes ago'" in message


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-59), "just now"),
        (timedelta(minutes=1), "1 min ago"),
        (timedelta(minutes=12, seconds=50), "12 min ago"),
        (timedelta(minutes=59, seconds=59), "59 min ago"),
        (timedelta(hours=1), "1 h ago"),
        (timedelta(hours=3, minutes=40), "3 h ago"),
        (timedelta(hours=23, minutes=59), "23 h ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=2, hours=23), "2 days ago"),
        (timedelta(days=13), "13 days ago"),
        (timedelta(days=14), "2 weeks ago"),
        (timedelta(days=35), "5 weeks ago"),
        (timedelta(days=59), "8 weeks ago"),
        (timedelta(days=60), "2 months ago"),
        (timedelta(days=364), "12 months ago"),
        (timedelta(days=365), "1 year ago"),
        (timedelta(days=800), "2 years ago"),
        (timedelta(hours=-3), "in 3 h"),
        (timedelta(days=-2), "in 2 days"),
    ],
)
def test_humanize_age(age: timedelta, text: str) -> None:
    assert humanize_age(NOW - age, NOW) == text


def test_humanize_age_compares_moments_not_wall_clocks() -> None:
    then = datetime(2026, 11, 28, 12, 50, tzinfo=BERLIN)  # 11:50Z
    assert humanize_age(then, NOW) == "10 min ago"


def test_format_local() -> None:
    moment = datetime(2026, 11, 28, 9, 0, 5, 999999, tzinfo=UTC)
    assert format_local(moment, BERLIN) == "2026-11-28 10:00:05"
    assert format_local(moment, UTC) == "2026-11-28 09:00:05"
    assert format_local(utc("2026-07-01 08:00:00"), BERLIN) == "2026-07-01 10:00:00"


def test_parse_then_format_round_trips_in_local_time() -> None:
    for text in ("2026-11-28 10:00:05", "2026-07-01 00:00:00", "2026-10-25 03:00:00"):
        assert format_local(parse_when(text, NOW, BERLIN), BERLIN) == text


def test_default_zone_is_the_system_local_zone() -> None:
    script = (
        "from datetime import datetime, timezone\n"
        "from agsekit.core.timeparse import format_local, parse_when\n"
        "now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)\n"
        "moment = parse_when('2026-07-01 10:00', now)\n"
        "print(moment.astimezone(timezone.utc).isoformat(), format_local(now))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TZ": "Europe/Berlin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["2026-07-01T08:00:00+00:00", "2026-11-28", "13:00:00"]
