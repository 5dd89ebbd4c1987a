"""Shared rendering for the history commands: paths, times, the JSON shapes."""

from __future__ import annotations

from datetime import datetime, timezone


def show_path(path: bytes | str) -> str:
    """A path for people, control characters and bytes that are not UTF-8 quoted."""
    from agsekit.core.display import show_path as shown

    return shown(path)


def path_fields(path: bytes, key: str = "path") -> dict[str, str]:
    """`path` as text; `path_hex` too (the exact bytes) when the name is not UTF-8."""
    fields = {key: show_path(path)}
    try:
        path.decode("utf-8")
    except UnicodeDecodeError:
        fields[f"{key}_hex"] = path.hex()
    return fields


def iso_local(moment: datetime) -> str:
    """ISO 8601 with the local offset, e.g. 2026-11-28T10:30:05+01:00."""
    return moment.astimezone().isoformat(timespec="seconds")


def when(moment: datetime, now: datetime | None = None) -> str:
    """'2026-11-28 10:30:05 (12 min ago)'."""
    from agsekit.core.timeparse import format_local, humanize_age

    current = now or datetime.now(timezone.utc)
    return f"{format_local(moment)} ({humanize_age(moment, current)})"


def snapshot_time(name: str) -> datetime:
    from agsekit.snapshots.engine.names import parse_name

    return parse_name(name)


def parse_time(text: str, option: str) -> datetime:
    from agsekit.core.errors import UsageError
    from agsekit.core.timeparse import parse_when

    try:
        return parse_when(text, datetime.now(timezone.utc))
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
