"""Times as people type and read them: `2026-11-28 10:00`, `15 minutes ago`, "12 min ago".

`tz` is the zone local times are read and shown in; None means the system's local zone.
Parsed moments come back in UTC: Python compares and subtracts two datetimes of the same
zoneinfo by wall clock, and calls an ambiguous local time unequal to everything in another
zone, so local-zone results would mislead callers around DST changes.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

from agsekit.core.durations import parse_duration

_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?)?"
    r"\s*(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)
_AGO = re.compile(r"^(?P<amount>.+?)\s+ago$", re.IGNORECASE)
_ACCEPTED = (
    "use local time such as '2026-11-28 10:00', '2026-11-28T10:00:05', '2026-11-28' "
    "(an offset like +01:00 or Z is allowed), or a relative time such as "
    "'15 minutes ago', '2h ago', '1d ago', 'yesterday' or 'now'"
)


def _in_zone(moment: datetime, tz: tzinfo | None) -> datetime:
    return moment.astimezone(tz) if tz is not None else moment.astimezone()


def _localize(naive: datetime, tz: tzinfo | None) -> datetime:
    """The UTC moment of a local wall-clock time. An ambiguous time (clocks went back)
    reads as the earlier one; a skipped time (clocks went forward) uses the offset from
    before the change, so 02:30 on a spring-forward night in Berlin is 03:30 CEST."""
    local = naive.astimezone() if tz is None else naive.replace(tzinfo=tz)
    return local.astimezone(timezone.utc)


def _parse_offset(text: str) -> timezone:
    if text.upper() == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or "0")
    if hours > 23 or minutes > 59:
        raise ValueError(f"not a UTC offset: {text!r}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse_iso(match: re.Match[str], tz: tzinfo | None) -> datetime:
    day = datetime.strptime(match["date"], "%Y-%m-%d")
    fraction = (match["fraction"] or "").ljust(6, "0")
    naive = day.replace(
        hour=int(match["hour"] or 0),
        minute=int(match["minute"] or 0),
        second=int(match["second"] or 0),
        microsecond=int(fraction),
    )
    if match["offset"]:
        return naive.replace(tzinfo=_parse_offset(match["offset"])).astimezone(timezone.utc)
    return _localize(naive, tz)


def _parse_relative(text: str, now: datetime, tz: tzinfo | None) -> datetime | None:
    word = text.lower()
    if word == "now":
        return now.astimezone(timezone.utc)
    if word == "yesterday":
        # Like `date -d yesterday` and git: the same wall-clock time one calendar day back.
        local = _in_zone(now, tz)
        return _localize(local.replace(tzinfo=None) - timedelta(days=1), tz)
    match = _AGO.match(text)
    if match is None:
        return None
    return (now - parse_duration(match["amount"])).astimezone(timezone.utc)


def parse_when(text: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """The moment `text` names, as an aware datetime in UTC; `now` must be aware.

    Raises ValueError whose message says what was wrong and which forms are accepted.
    """
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ValueError(f"empty time; {_ACCEPTED}")
    try:
        match = _ISO.match(cleaned)
        if match is not None:
            return _parse_iso(match, tz)
        moment = _parse_relative(cleaned, now, tz)
    except ValueError as error:
        raise ValueError(f"cannot read time {text!r}: {error}; {_ACCEPTED}") from None
    if moment is None:
        raise ValueError(f"cannot read time {text!r}; {_ACCEPTED}")
    return moment


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _span(seconds: float) -> str:
    minutes, hours, days = int(seconds // 60), int(seconds // 3600), int(seconds // 86400)
    if minutes < 60:
        return f"{minutes} min"
    if hours < 24:
        return f"{hours} h"
    if days < 14:
        return _plural(days, "day")
    if days < 60:
        return _plural(days // 7, "week")
    if days < 365:
        return _plural(days // 30, "month")
    return _plural(days // 365, "year")


def humanize_age(then: datetime, now: datetime) -> str:
    """'just now', '12 min ago', '3 h ago', '2 days ago', '5 weeks ago', '4 months ago',
    '1 year ago'; a moment more than a minute ahead of `now` reads 'in 3 h'."""
    seconds = (now - then).total_seconds()
    if abs(seconds) < 60:
        return "just now"
    if seconds < 0:
        return f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def format_local(moment: datetime, tz: tzinfo | None = None) -> str:
    """'2026-11-28 10:00:05' in the local zone (seconds kept: snapshot names have them)."""
    return _in_zone(moment, tz).strftime("%Y-%m-%d %H:%M:%S")
