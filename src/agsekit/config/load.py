"""Load the YAML file, validate it, and resolve defaults into frozen types.

Stages: parse YAML (keeping line numbers) -> check shapes (schema.py) -> fill defaults and
check across keys (here). Every problem is reported at once, each naming the file, the
line, the key path and the bad value.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from agsekit.config.model import (
    AgentSpec,
    AlarmPolicy,
    Config,
    MountSpec,
    RetentionPolicy,
    VmSpec,
)
from agsekit.config.schema import ConfigModel
from agsekit.core.durations import parse_duration
from agsekit.core.errors import ConfigError

Loc = tuple[str | int, ...]


def load_config(path: Path, *, required: bool = True) -> Config:
    """Read and validate the config at path. A missing file is an error when required,
    otherwise an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return empty_config(None)
        raise ConfigError(
            f"no configuration file at {path}",
            problems=[
                "create one from the example: agsekit config-example > " + str(path),
                "or point to one with --config PATH or the CONFIG_PATH variable",
            ],
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc}") from None
    return parse_config(text, path)


def empty_config(path: Path | None) -> Config:
    return Config(path, {}, (), RetentionPolicy(), AlarmPolicy(), {})


def parse_config(text: str, path: Path) -> Config:
    tree = _parse_yaml(text, path)
    if tree is None:
        return empty_config(path)
    locator = _Locator(path, tree)
    if not isinstance(tree, dict):
        raise ConfigError(
            f"invalid configuration in {path}",
            problems=[locator.problem((), "the top level must be a mapping of keys", tree)],
        )
    try:
        model = ConfigModel.model_validate(_plain(tree))
    except ValidationError as exc:
        shape_problems = [_describe(locator, err) for err in exc.errors()]
        raise ConfigError(f"invalid configuration in {path}", problems=shape_problems) from None
    problems: list[str] = []
    config = _resolve(model, path, locator, problems)
    if problems:
        raise ConfigError(f"invalid configuration in {path}", problems=problems)
    return config


def _parse_yaml(text: str, path: Path) -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {exc.problem}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (keys kept in order)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


class _Locator:
    """Maps a key path to a line of the file, for messages."""

    def __init__(self, path: Path, tree: Any) -> None:
        self.path = path
        self.tree = tree

    def line(self, loc: Loc) -> int | None:
        node = self.tree
        line: int | None = None
        for part in loc:
            lc = getattr(node, "lc", None)
            try:
                if isinstance(node, dict) and part in node:
                    if lc is not None:
                        line = lc.key(part)[0] + 1
                    node = node[part]
                elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                    if lc is not None:
                        line = lc.item(part)[0] + 1
                    node = node[part]
                else:
                    break
            except (KeyError, IndexError, TypeError):
                break
        if line is None and getattr(self.tree, "lc", None) is not None:
            line = self.tree.lc.line + 1
        return line

    def value(self, loc: Loc) -> Any:
        node = self.tree
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def problem(self, loc: Loc, message: str, value: Any = ..., *, show_value: bool = True) -> str:
        line = self.line(loc)
        where = f"{self.path.name}:{line}" if line else self.path.name
        key = key_path(loc) or "(top level)"
        text = f"{where}: {key}: {message}"
        if show_value and value is not ... and not isinstance(value, (dict, list)):
            text += f" (got {_short(value)})"
        return text


def key_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(locator: _Locator, err: Any) -> str:
    loc: Loc = tuple(p for p in err["loc"] if p not in _UNION_NOISE)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = difflib.get_close_matches(key, _allowed_keys(loc[:-1]), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        allowed = ", ".join(_allowed_keys(loc[:-1]))
        return locator.problem(
            loc, f"unknown key{suggestion}; allowed here: {allowed}", show_value=False
        )
    if kind == "missing":
        return locator.problem(loc, "required key is missing", show_value=False)
    message = str(err["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    return locator.problem(loc, message, err.get("input", ...))


# pydantic adds the names of union members and validator kinds to error locations
_UNION_NOISE = {"str", "int", "float", "bool", "RetentionModel", "function-after[_ram(), str]"}


def _allowed_keys(loc: Loc) -> list[str]:
    node: Any = ConfigModel
    for part in loc:
        node = _element_type(node, part)
        if node is None:
            return []
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or name for name, f in node.model_fields.items()]
    return []


def _element_type(node: Any, part: str | int) -> Any:
    if isinstance(node, type) and issubclass(node, BaseModel):
        for name, info in node.model_fields.items():
            if part in (name, info.alias):
                return _unwrap_optional(info.annotation)
        return None
    origin = typing.get_origin(node)
    args = typing.get_args(node)
    if origin is dict and len(args) == 2:
        return _unwrap_optional(args[1])
    if origin is list and args:
        return _unwrap_optional(args[0])
    return None


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return tp


def _resolve(model: Any, path: Path, locator: _Locator, problems: list[str]) -> Config:
    base_dir = path.parent
    vms = {
        name: VmSpec(name, vm.cpu, vm.ram, vm.disk, _plain(vm.cloud_init))
        for name, vm in model.vms.items()
    }
    retention = _retention(model.retention, RetentionPolicy())
    indexed = list(
        _mounts(
            raw_mounts=model.mounts,
            vms=vms,
            retention=retention,
            base_dir=base_dir,
            locator=locator,
            problems=problems,
        )
    )
    _check_sources(indexed, locator, problems)
    mounts = tuple(mount for _, mount in indexed)
    agents = {}
    for name, agent in model.agents.items():
        if agent.vm is not None and agent.vm not in vms:
            problems.append(_unknown_vm(locator, ("agents", name, "vm"), agent.vm, vms))
        agents[name] = AgentSpec(
            name,
            agent.type,
            agent.vm,
            agent.version,
            tuple(agent.default_args),
            tuple(agent.env.items()),
            agent.isolation,
        )
    alarm = AlarmPolicy(
        model.alarm.deleted_fraction, model.alarm.deleted_files, model.alarm.enabled
    )
    return Config(path, vms, mounts, retention, alarm, agents)


def _retention(raw: Any, base: RetentionPolicy) -> RetentionPolicy:
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


def absolute(raw: str, base_dir: Path) -> Path:
    """~ expanded; relative paths are taken from the config file's folder."""
    expanded = Path(os.path.expanduser(raw))
    return Path(os.path.normpath(base_dir / expanded))


def _mounts(
    *,
    raw_mounts: Sequence[Any],
    vms: dict[str, VmSpec],
    retention: RetentionPolicy,
    base_dir: Path,
    locator: _Locator,
    problems: list[str],
) -> Iterable[tuple[int, MountSpec]]:
    first_vm = next(iter(vms), None)
    for index, raw in enumerate(raw_mounts):
        source = absolute(raw.source, base_dir)
        backup = (
            absolute(raw.backup, base_dir)
            if raw.backup is not None
            else source.parent / f"backups-{source.name}"
        )
        vm = raw.vm if raw.vm is not None else first_vm
        if vm is None:
            problems.append(
                locator.problem(("mounts", index), "no VM to mount into: add one under 'vms'")
            )
            continue
        if vm not in vms:
            problems.append(_unknown_vm(locator, ("mounts", index, "vm"), vm, vms))
            continue
        if backup == source or _inside(source, backup):
            problems.append(
                locator.problem(
                    ("mounts", index, "backup"),
                    "the backup folder must not be the source or contain it",
                    str(backup),
                )
            )
            continue
        yield (
            index,
            MountSpec(
                source=source,
                target=raw.target or f"/home/ubuntu/{source.name}",
                backup=backup,
                interval_minutes=float(raw.interval),
                vm=vm,
                retention=_retention(raw.retention, retention),
            ),
        )


def _inside(path: Path, folder: Path) -> bool:
    return folder in path.parents


def _unknown_vm(locator: _Locator, loc: Loc, vm: str, vms: dict[str, VmSpec]) -> str:
    hint = difflib.get_close_matches(vm, list(vms), n=1)
    known = ", ".join(vms) or "none"
    suggestion = f"did you mean '{hint[0]}'? " if hint else ""
    return locator.problem(loc, f"no VM named {vm!r} in 'vms' ({suggestion}known: {known})", vm)


def _check_sources(
    mounts: Sequence[tuple[int, MountSpec]], locator: _Locator, problems: list[str]
) -> None:
    seen: dict[Path, int] = {}
    for index, mount in mounts:
        if mount.source in seen:
            problems.append(
                locator.problem(
                    ("mounts", index, "source"),
                    f"the same source as mounts[{seen[mount.source]}]",
                    str(mount.source),
                )
            )
        seen.setdefault(mount.source, index)
