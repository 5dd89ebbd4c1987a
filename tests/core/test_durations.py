"""Durations in the short (`2h`) and the spelled-out (`15 minutes`) form."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agsekit.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("90m", timedelta(minutes=90)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1.5h", timedelta(minutes=90)),
        ("15 minutes", timedelta(minutes=15)),
        ("1 minute", timedelta(minutes=1)),
        ("2 hours", timedelta(hours=2)),
        ("3 secs", timedelta(seconds=3)),
        ("1 week", timedelta(weeks=1)),
        ("2 days 3 hours", timedelta(days=2, hours=3)),
        ("2hours30mins", timedelta(hours=2, minutes=30)),
        ("5 MIN", timedelta(minutes=5)),
    ],
)
def test_parses(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "10", "5x", "5ms", "h", "2h and"])
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_round_trips() -> None:
    for text in ("2h", "30m", "3d", "1w", "45s"):
        assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    "text", ["99999999999d", "36501d", "5300w", "1" + "0" * 400 + "s", "36500d 1s"]
)
def test_rejects_more_than_a_century_without_overflow(text: str) -> None:
    with pytest.raises(ValueError, match="longer than the maximum of 100 years"):
        parse_duration(text)


def test_a_century_is_accepted() -> None:
    assert parse_duration("36500d") == timedelta(days=36500)


def test_only_ascii_digits_and_letters() -> None:
    with pytest.raises(ValueError):
        parse_duration("\u0663h")  # ARABIC-INDIC DIGIT THREE
    with pytest.raises(ValueError):
        parse_duration("1\u212a")  # KELVIN SIGN, which IGNORECASE would take for k
