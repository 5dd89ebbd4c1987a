"""Durations such as `2h`, `90m`, `1d12h`, used by retention and by relative times."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
    "week": 604800,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", re.IGNORECASE | re.ASCII)

# Longer spans are typing mistakes, and datetime arithmetic with them overflows.
MAX_DURATION = timedelta(days=36500)


def _singular(unit: str) -> str:
    # "minutes" -> "minute"; two-letter words like "ms" stay unknown rather than minutes.
    return unit[:-1] if unit not in _UNITS and len(unit) > 2 and unit.endswith("s") else unit


def parse_duration(text: str) -> timedelta:
    """Parse `2h`, `30m`, `1d12h`, `15 minutes`, `1 week`; raise ValueError otherwise,
    also for anything longer than MAX_DURATION (100 years)."""
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    pos = 0
    total = 0.0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 2h, 7d, 1w)")
        unit = _singular(match.group(2).lower())
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {match.group(2)!r} in {text!r} (use s, m, h, d or w)")
        total += float(match.group(1)) * _UNITS[unit]
        pos = match.end()
    if total > MAX_DURATION.total_seconds():
        raise ValueError("longer than the maximum of 100 years (36500d)")
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
