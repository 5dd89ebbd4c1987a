"""Load the YAML file, validate it, and resolve defaults into frozen types.

Stages: parse YAML, keeping line numbers, and guard against alias bombs (tree.py) -> check
shapes (schema.py, checks.py) -> fill defaults and check across keys (here, mounts.py and
backups.py). Every problem is reported at once, each naming the file, the line, the key
path and the whole bad value (messages.py).
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import stat
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from agsekit.config.checks import reserve_fraction
from agsekit.config.forwards import resolve_forwards
from agsekit.config.messages import Locator, unknown_vm
from agsekit.config.model import (
    ENDPOINT_APIS,
    AgentSpec,
    AlarmPolicy,
    BundleSpec,
    Config,
    ModelEndpoint,
    NetworkKeys,
    Proxies,
    RetentionPolicy,
    Timing,
    VmSpec,
    allowed,
)
from agsekit.config.mounts import Defaults, resolve_mounts, resolve_retention
from agsekit.config.network import check_open, network_keys, vm_policy
from agsekit.config.schema import AgentModel, ConfigModel
from agsekit.config.tree import Loc, TreeError, check_tree, parse_yaml, to_plain
from agsekit.core.durations import parse_duration
from agsekit.core.errors import ConfigError
from agsekit.provision.catalogue import parse_item


def load_config(path: Path, *, required: bool = True) -> Config:
    """Read and validate the config at path. A missing file is an error when required,
    otherwise an empty config."""
    try:
        text = _read_config(path)
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


MAX_CONFIG_BYTES = 4 << 20


def _read_config(path: Path) -> str:
    """The config's text. A symlink to it is fine (dotfile managers make them), but only a
    regular file is read, without ever blocking (a FIFO put in its place would hang every
    command and the service's reload) and up to a cap. /dev/stdin (and /dev/fd/N) is the
    caller's own pipe: `agsekit config-example | agsekit config-check --config /dev/stdin`."""
    own_pipe = str(path) == "/dev/stdin" or str(path).startswith("/dev/fd/")
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | (0 if own_pipe else os.O_NONBLOCK)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) or own_pipe):
            raise OSError(errno.EINVAL, "not a regular file")
        data = b""
        while len(data) <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_CONFIG_BYTES >> 20} MiB")
    return data.decode("utf-8")


def empty_config(path: Path | None) -> Config:
    return Config(path, {}, (), RetentionPolicy(), AlarmPolicy(), {})


def parse_config(text: str, path: Path) -> Config:
    tree = parse_yaml(text, path)
    if tree is None:
        return empty_config(path)
    locator = Locator(path, tree)
    try:
        check_tree(tree, text)
    except TreeError as exc:
        problem = locator.problem(exc.loc, exc.message, line=exc.line)
        raise ConfigError(f"invalid configuration in {path}", problems=[problem]) from None
    if not isinstance(tree, dict):
        raise ConfigError(
            f"invalid configuration in {path}",
            problems=[locator.problem((), "the top level must be a mapping of keys", tree)],
        )
    try:
        model = ConfigModel.model_validate(to_plain(tree))
    except ValidationError as exc:
        shape_problems = [_describe(locator, err) for err in exc.errors()]
        raise ConfigError(f"invalid configuration in {path}", problems=shape_problems) from None
    problems: list[str] = []
    config = _resolve(model, path, locator, problems)
    if problems:
        raise ConfigError(f"invalid configuration in {path}", problems=problems)
    return config


def _describe(locator: Locator, err: Any) -> str:
    loc = _clean_loc(locator.tree, tuple(err["loc"]))
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = difflib.get_close_matches(key, _allowed_keys(loc[:-1]), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        allowed = ", ".join(_allowed_keys(loc[:-1]))
        return locator.problem(loc, f"unknown key{suggestion}; allowed here: {allowed}")
    if kind == "missing":
        return locator.problem(loc, "required key is missing")
    message = str(err["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    message = _MODEL_NAME.sub("", message)  # "a valid dictionary or instance of VmModel"
    return locator.problem(loc, message, err.get("input", ...))


def _clean_loc(tree: Any, loc: Loc) -> Loc:
    """The error's key path without what pydantic adds: `[key]` after a bad mapping key, and
    the names of union members or validators, which are never keys of the file."""
    out: list[str | int] = []
    node = tree
    for part in loc:
        present = isinstance(node, (dict, list)) and _has(node, part)
        if not present and (part == "[key]" or _PYDANTIC_TAG.fullmatch(str(part))):
            continue
        out.append(part)
        node = node[part] if present else None
    return tuple(out)


def _has(node: dict[Any, Any] | list[Any], part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(part, int) and 0 <= part < len(node)


_MODEL_NAME = re.compile(r" or instance of \w+")
# union members (`str`, `RetentionModel`) and validators (`function-after[...]`)
_PYDANTIC_TAG = re.compile(r"str|int|float|bool|none|\w+Model|function-\w+\[.*\]")


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


def _resolve(model: ConfigModel, path: Path, locator: Locator, problems: list[str]) -> Config:
    forwards = resolve_forwards(model.vms, locator, problems)
    vms = {
        name: VmSpec(
            name,
            vm.cpu,
            vm.ram,
            vm.disk,
            to_plain(vm.cloud_init),
            _proxies(vm.http_proxy, vm.proxychains, ("vms", name), locator, problems),
            allowed(vm.allowed_agents),
            forwards[name],
            install=_bundles(vm.install, ("vms", name, "install"), locator, problems),
            network=vm_policy(vm.network, ("vms", name), locator, problems),
        )
        for name, vm in model.vms.items()
    }
    defaults = Defaults(
        retention=resolve_retention(model.retention, RetentionPolicy()),
        ignore_files=model.ignore_files,
        reserve=reserve_fraction(model.reserve),
        timing=_timing(model, locator, problems),
    )
    mounts = resolve_mounts(
        model.mounts,
        vms=vms,
        defaults=defaults,
        base_dir=path.parent,
        locator=locator,
        problems=problems,
    )
    agents = {}
    for name, agent in model.agents.items():
        if agent.vm is not None and agent.vm not in vms:
            problems.append(unknown_vm(locator, ("agents", name, "vm"), agent.vm, vms))
        agents[name] = AgentSpec(
            name,
            agent.type,
            agent.vm,
            agent.version,
            tuple(agent.default_args),
            tuple(agent.env.items()),
            agent.isolation,
            _proxies(agent.http_proxy, agent.proxychains, ("agents", name), locator, problems),
            _endpoint(agent, ("agents", name), locator, problems),
            _agent_network(agent, ("agents", name), vms, locator, problems),
        )
    _check_allowed_agents(model, locator, problems)
    alarm = AlarmPolicy(
        model.alarm.deleted_fraction, model.alarm.deleted_files, model.alarm.enabled
    )
    return Config(
        path,
        vms,
        mounts,
        defaults.retention,
        alarm,
        agents,
        ignore_files=defaults.ignore_files,
        reserve=defaults.reserve,
        timing=defaults.timing,
        watch_budget=model.watch_budget,
    )


def _agent_network(
    agent: AgentModel,
    where: tuple[str, ...],
    vms: dict[str, VmSpec],
    locator: Locator,
    problems: list[str],
) -> NetworkKeys | None:
    """The agent's own keys; checked against its VM's mode when it names its VM."""
    keys = network_keys(agent.network)
    if keys is not None:
        vm = vms.get(agent.vm) if agent.vm is not None else None
        mode = keys.mode or (vm.network.mode if vm is not None else None)
        if mode is not None:
            check_open(keys, mode, where, locator, problems)
    return keys


def _endpoint(
    agent: AgentModel, where: tuple[str, ...], locator: Locator, problems: list[str]
) -> ModelEndpoint | None:
    if agent.model is None:
        return None
    if agent.type not in ENDPOINT_APIS:
        able = ", ".join(ENDPOINT_APIS)
        problems.append(
            locator.problem(
                (*where, "model"),
                f"a {agent.type} agent cannot be given another model endpoint (the types "
                f"that can: {able})",
            )
        )
    raw = agent.model
    return ModelEndpoint(raw.base_url, raw.model, raw.api_key)


def _bundles(
    items: list[str], where: tuple[str, ...], locator: Locator, problems: list[str]
) -> tuple[BundleSpec, ...]:
    """A VM's `install:` as specs; a bundle listed twice is a problem (which version?)."""
    specs: dict[str, BundleSpec] = {}
    for index, item in enumerate(items):
        name, version = parse_item(item)
        if name in specs:
            problems.append(
                locator.problem(
                    (*where, index), f"{name} is listed twice: keep one (with its version)", item
                )
            )
        specs.setdefault(name, BundleSpec(name, version))
    return tuple(specs.values())


def _check_allowed_agents(model: ConfigModel, locator: Locator, problems: list[str]) -> None:
    """Every name in an allowed_agents list is an agent of the config."""
    lists: list[tuple[tuple[str | int, ...], list[str] | None]] = [
        (("vms", name), vm.allowed_agents) for name, vm in model.vms.items()
    ]
    lists += [(("mounts", i), m.allowed_agents) for i, m in enumerate(model.mounts)]
    known = ", ".join(model.agents) or "none"
    for where, names in lists:
        for index, name in enumerate(names or []):
            if name not in model.agents:
                problems.append(
                    locator.problem(
                        (*where, "allowed_agents", index),
                        f"no agent named {name!r} under agents: (known: {known})",
                    )
                )


def _proxies(
    http_proxy: str | None,
    proxychains: str | None,
    where: tuple[str, ...],
    locator: Locator,
    problems: list[str],
) -> Proxies:
    if http_proxy and proxychains:
        problems.append(
            locator.problem(
                (*where, "proxychains"),
                "set either http_proxy or proxychains, not both: the agent uses one way "
                "to its proxy (an empty string turns one off)",
            )
        )
    return Proxies(http_proxy, proxychains)


def _timing(model: ConfigModel, locator: Locator, problems: list[str]) -> Timing:
    def seconds(value: str) -> float:
        return parse_duration(value).total_seconds()

    timing = Timing(seconds(model.debounce), seconds(model.max_delay), seconds(model.min_interval))
    if timing.max_delay < timing.debounce:
        key = "max_delay" if "max_delay" in model.model_fields_set else "debounce"
        problems.append(
            locator.problem(
                (key,),
                f"max_delay ({timing.max_delay:g}s) must not be shorter than debounce "
                f"({timing.debounce:g}s): a snapshot waits for a quiet tree at most max_delay",
                getattr(model, key),
            )
        )
    return timing
