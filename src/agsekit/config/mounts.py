"""Mounts: host paths resolved, defaults filled in, and the checks across mounts.

A mount hands its source folder to an agent that can write anything there, so a source
must never be the whole host or the user's home, and the snapshot store (backup) must lie
outside every source. Overlaps are judged on real paths (symlinks resolved) as well as on
the paths as written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from agsekit.config.backups import Store, default_backup, store_problems
from agsekit.config.checks import reserve_fraction
from agsekit.config.messages import Locator, show_value, unknown_vm
from agsekit.config.model import IgnoreFiles, MountSpec, RetentionPolicy, Timing, VmSpec, allowed
from agsekit.config.schema import MountModel, RetentionModel
from agsekit.core.durations import parse_duration
from agsekit.core.paths import is_within

GUEST_HOME = "/home/ubuntu"


@dataclass(frozen=True)
class _Draft:
    """One mount that passed its own checks, before the checks across mounts."""

    index: int
    source: Path
    backup: Path | None  # None: the default, which depends on the other sources
    target: str
    target_given: bool
    vm: str
    raw: MountModel  # for the keys taken as they are


class _Problems:
    def __init__(self, locator: Locator, problems: list[str]) -> None:
        self.locator = locator
        self.problems = problems

    def add(self, index: int, key: str | None, message: str, value: Any = ...) -> None:
        loc = ("mounts", index) if key is None else ("mounts", index, key)
        self.problems.append(self.locator.problem(loc, message, value))


def host_path(raw: str, base_dir: Path) -> Path:
    """`~` and `~user` expanded; relative paths are taken from the config file's folder.

    ValueError when `~user` names no user: os.path.expanduser leaves it as it is, which
    would silently make it a folder named `~user` beside the config."""
    expanded = os.path.expanduser(raw)
    if raw.startswith("~") and expanded == raw:
        user = raw[1:].partition("/")[0]
        if user:
            raise ValueError(f"there is no user named {user!r} on this host")
        raise ValueError("cannot expand '~': this user has no home folder")
    return _normal(os.path.join(os.path.abspath(base_dir), expanded))


def _normal(path: str) -> Path:
    # normpath keeps a leading "//" (POSIX leaves its meaning open); here it is just "/".
    return Path("/" + os.path.normpath(path).lstrip("/"))


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _home() -> Path | None:
    home = os.path.expanduser("~")
    return _real(Path(home)) if home != "~" else None


@dataclass(frozen=True)
class Defaults:
    """What a mount takes from the top level unless it sets its own."""

    retention: RetentionPolicy
    ignore_files: IgnoreFiles
    reserve: float
    timing: Timing = field(default_factory=Timing)


def resolve_mounts(
    raw_mounts: Sequence[MountModel],
    *,
    vms: dict[str, VmSpec],
    defaults: Defaults,
    base_dir: Path,
    locator: Locator,
    problems: list[str],
) -> tuple[MountSpec, ...]:
    """The mounts as frozen specs; problems found are appended to `problems`."""
    report = _Problems(locator, problems)
    drafts = [
        draft
        for index, raw in enumerate(raw_mounts)
        if (draft := _draft(index, raw, vms, base_dir, report)) is not None
    ]
    duplicates = _check_sources(drafts, report)
    _check_targets(drafts, report)
    _check_excludes(drafts, defaults, report)
    timings = {d.index: resolve_timing(d.raw, defaults.timing) for d in drafts}
    for draft in drafts:
        _check_timing(draft, timings[draft.index], report)
    sources = [d.source for d in drafts]
    stores = [
        Store(d.index, d.source, d.backup or default_backup(d.source, sources), d.backup is None)
        for d in drafts
    ]
    checked = [store for store in stores if store.index not in duplicates]
    for store, message in store_problems(checked):
        report.add(store.index, "backup", message, str(store.backup))
    return tuple(
        MountSpec(
            source=d.source,
            target=d.target,
            backup=store.backup,
            interval_minutes=float(d.raw.interval),
            vm=d.vm,
            retention=resolve_retention(d.raw.retention, defaults.retention),
            exclude=tuple(d.raw.exclude),
            ignore_files=d.raw.ignore_files or defaults.ignore_files,
            reserve=defaults.reserve if d.raw.reserve is None else reserve_fraction(d.raw.reserve),
            timing=timings[d.index],
            allowed_agents=allowed(d.raw.allowed_agents),
        )
        for d, store in zip(drafts, stores, strict=True)
    )


def _draft(
    index: int, raw: MountModel, vms: dict[str, VmSpec], base_dir: Path, report: _Problems
) -> _Draft | None:
    paths = _paths(index, raw, base_dir, report)
    vm = _vm(index, raw.vm, vms, report)
    if paths is None or vm is None:
        return None
    source, backup = paths
    target = raw.target if raw.target is not None else f"{GUEST_HOME}/{source.name}"
    return _Draft(index, source, backup, target, raw.target is not None, vm, raw)


def _paths(
    index: int, raw: MountModel, base_dir: Path, report: _Problems
) -> tuple[Path, Path | None] | None:
    """(source, backup as given or None), or None after reporting why not."""
    source = _host_path(index, "source", raw.source, base_dir, report)
    backup = (
        _host_path(index, "backup", raw.backup, base_dir, report)
        if raw.backup is not None
        else None
    )
    if source is None or (raw.backup is not None and backup is None):
        return None
    return (source, backup) if _safe_source(index, source, raw.source, report) else None


def _host_path(index: int, key: str, raw: str, base_dir: Path, report: _Problems) -> Path | None:
    try:
        return host_path(raw, base_dir)
    except ValueError as exc:
        report.add(index, key, str(exc), raw)
        return None


def _safe_source(index: int, source: Path, raw: str, report: _Problems) -> bool:
    real = _real(source)
    if source == Path("/") or real == Path("/"):
        report.add(
            index,
            "source",
            "must not be / (the whole host would be handed to the agent); name a project folder",
            raw,
        )
        return False
    home = _home()
    if home is not None and is_within(home, real):
        report.add(
            index,
            "source",
            f"must not be your home folder {show_value(str(home))} or a folder that holds it "
            "(the agent would get ~/.ssh and every other secret there); name a project folder",
            raw,
        )
        return False
    return True


def _vm(index: int, raw: str | None, vms: dict[str, VmSpec], report: _Problems) -> str | None:
    vm = raw if raw is not None else next(iter(vms), None)
    if vm is None:
        report.add(index, None, "no VM to mount into: add one under 'vms'")
        return None
    if vm not in vms:
        report.problems.append(unknown_vm(report.locator, ("mounts", index, "vm"), vm, vms))
        return None
    return vm


def _check_sources(drafts: Sequence[_Draft], report: _Problems) -> set[int]:
    """Reports each source that another mount has already; returns their indexes."""
    seen: dict[Path, int] = {}
    duplicates: set[int] = set()
    for draft in drafts:
        forms = (draft.source, _real(draft.source))
        first = next((seen[form] for form in forms if form in seen), None)
        if first is not None:
            report.add(
                draft.index, "source", f"the same source as mounts[{first}]", str(draft.source)
            )
            duplicates.add(draft.index)
            continue
        for form in forms:
            seen.setdefault(form, draft.index)
    return duplicates


def _check_excludes(drafts: Sequence[_Draft], defaults: Defaults, report: _Problems) -> None:
    for draft in drafts:
        mode = draft.raw.ignore_files or defaults.ignore_files
        if draft.raw.exclude and mode == "tree":
            report.add(
                draft.index,
                "exclude",
                "would never apply: ignore_files is 'tree' for this mount (only .backupignore "
                "files); set ignore_files to 'both' or 'host', or drop these patterns",
                list(draft.raw.exclude),
            )


def _check_targets(drafts: Sequence[_Draft], report: _Problems) -> None:
    seen: dict[tuple[str, str], int] = {}
    for draft in drafts:
        key = (draft.vm, draft.target)
        if key in seen:
            default = "" if draft.target_given else f" (the default {GUEST_HOME}/<folder name>)"
            report.add(
                draft.index,
                "target",
                f"the same target in VM {draft.vm!r} as mounts[{seen[key]}]{default}; "
                "set 'target:' to another folder",
                draft.target,
            )
        seen.setdefault(key, draft.index)


def resolve_timing(raw: MountModel, base: Timing) -> Timing:
    """The mount's debounce, max_delay and min_interval laid over the top-level ones."""

    def seconds(value: str | None, default: float) -> float:
        return default if value is None else parse_duration(value).total_seconds()

    return Timing(
        seconds(raw.debounce, base.debounce),
        seconds(raw.max_delay, base.max_delay),
        seconds(raw.min_interval, base.min_interval),
    )


def _check_timing(draft: _Draft, timing: Timing, report: _Problems) -> None:
    if timing.max_delay >= timing.debounce:
        return
    own = "max_delay" if draft.raw.max_delay is not None else "debounce"
    if draft.raw.max_delay is None and draft.raw.debounce is None:
        return  # both inherited: reported once, at the top level
    value = draft.raw.max_delay if own == "max_delay" else draft.raw.debounce
    report.add(
        draft.index,
        own,
        f"max_delay ({_secs(timing.max_delay)}) must not be shorter than debounce "
        f"({_secs(timing.debounce)}): a snapshot waits for a quiet tree at most max_delay",
        value,
    )


def _secs(seconds: float) -> str:
    return f"{seconds:g}s"


def resolve_retention(raw: RetentionModel | None, base: RetentionPolicy) -> RetentionPolicy:
    """`raw` (retention keys, or None) laid over `base`."""
    if raw is None:
        return base
    within: timedelta = (
        parse_duration(raw.keep_within) if raw.keep_within is not None else base.keep_within
    )
    return RetentionPolicy(
        within,
        base.keep_hourly if raw.keep_hourly is None else raw.keep_hourly,
        base.keep_daily if raw.keep_daily is None else raw.keep_daily,
        base.keep_weekly if raw.keep_weekly is None else raw.keep_weekly,
        base.keep_monthly if raw.keep_monthly is None else raw.keep_monthly,
    )
