"""Snapshot names: the UTC start time as YYYYMMDDTHHMMSSZ, strictly increasing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

NAME_FORMAT = "%Y%m%dT%H%M%SZ"
PARTIAL_SUFFIX = "-partial"
_NAME = re.compile(r"[0-9]{8}T[0-9]{6}Z")  # ASCII digits only; matched whole
_PARTIAL = re.compile(r"[0-9]{8}T[0-9]{6}Z-partial")


def is_snapshot_name(name: str) -> bool:
    if not _NAME.fullmatch(name):
        return False
    try:
        parse_name(name)
    except ValueError:
        return False
    return True


def is_partial_name(name: str) -> bool:
    return bool(_PARTIAL.fullmatch(name)) and is_snapshot_name(name[: -len(PARTIAL_SUFFIX)])


def parse_name(name: str) -> datetime:
    return datetime.strptime(name, NAME_FORMAT).replace(tzinfo=timezone.utc)


def format_name(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(NAME_FORMAT)


def next_name(now: datetime, latest: str | None) -> str:
    """The name for a snapshot started at `now`: later than `latest` even when two
    snapshots start in the same second or the clock stepped back."""
    name = format_name(now)
    if latest is not None and name <= latest:
        name = format_name(parse_name(latest) + timedelta(seconds=1))
    return name


FUTURE_TOLERANCE = timedelta(minutes=1)


def name_for(now: datetime, existing: list[str]) -> tuple[str, str | None]:
    """The name for a snapshot started at `now`, and the newest existing name when it lies
    in the future (a clock that was ahead): then the new snapshot is named by the real time
    instead of after it (the order of snapshots is kept by their sequence numbers)."""
    newest = max(existing) if existing else None
    if newest is not None and parse_name(newest) > now + FUTURE_TOLERANCE:
        taken = set(existing)
        moment = now
        while format_name(moment) in taken:
            moment += timedelta(seconds=1)
        return format_name(moment), newest
    return next_name(now, newest), None
