"""config-gen's answers, the checks of each answer, and the commented config they make.

Each check returns None for a good answer or the sentence that says why not, so that the
wizard can ask again; the whole config is validated once more before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agsekit.agents.catalogue import CATALOGUE
from agsekit.config import checks
from agsekit.config.backups import default_backup
from agsekit.config.load import parse_config
from agsekit.config.model import VmSpec
from agsekit.config.mount_text import scalar
from agsekit.config.schema import MAX_CPU, MAX_INTERVAL_MINUTES, check_size
from agsekit.config.sizes import MAX_DISK, MAX_MEMORY, MIN_DISK, MIN_MEMORY, format_size
from agsekit.core.errors import ConfigError
from agsekit.vm.capacity import HostCapacity, capacity_problems

COMMENT_COLUMN = 30
# The variables each agent type reads its key from (the first is suggested).
KEY_VARIABLES = {
    "claude": "ANTHROPIC_API_KEY",
    "codex": "OPENAI_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "qwen": "DASHSCOPE_API_KEY",
    "opencode": "OPENAI_API_KEY",
    "aider": "OPENAI_API_KEY",
}


@dataclass(frozen=True)
class VmAnswer:
    name: str
    cpu: int
    ram: str
    disk: str


@dataclass(frozen=True)
class MountAnswer:
    source: Path
    vm: str
    interval: float


@dataclass(frozen=True)
class AgentAnswer:
    name: str
    type: str
    vm: str
    env: tuple[str, ...]


@dataclass
class Answers:
    vms: list[VmAnswer] = field(default_factory=list)
    mounts: list[MountAnswer] = field(default_factory=list)
    agents: list[AgentAnswer] = field(default_factory=list)


Check = Callable[[str], str | None]


def _why(check: Callable[[str], object], value: str) -> str | None:
    try:
        check(value)
    except ValueError as exc:
        return str(exc)
    return None


def vm_name_problem(value: str, answers: Answers) -> str | None:
    if any(vm.name == value for vm in answers.vms):
        return f"there is a VM {value} already"
    return _why(checks.vm_name, value)


def cpu_problem(value: str, answers: Answers, host: HostCapacity) -> str | None:
    if not value.isdigit() or not 1 <= int(value) <= MAX_CPU:
        return f"a whole number of CPUs from 1 to {MAX_CPU}"
    return _capacity(answers, host, VmSpec("new", int(value), "0", "0"))


def ram_problem(value: str, answers: Answers, host: HostCapacity) -> str | None:
    bad = _why(lambda v: check_size(v, MIN_MEMORY, MAX_MEMORY, "memory"), value)
    return bad or _capacity(answers, host, VmSpec("new", 0, value, "0"))


def disk_problem(value: str) -> str | None:
    return _why(lambda v: check_size(v, MIN_DISK, MAX_DISK, "disk"), value)


def _capacity(answers: Answers, host: HostCapacity, new: VmSpec) -> str | None:
    """What the VMs so far and new leave the host short of (new has 0 of the other one)."""
    specs = [VmSpec(v.name, v.cpu, v.ram, v.disk) for v in answers.vms]
    problems = capacity_problems([*specs, new], host)
    return problems[0] if problems else None


def interval_problem(value: str) -> str | None:
    try:
        minutes = float(value)
    except ValueError:
        return "a number of minutes, e.g. 5"
    if not 0 < minutes <= MAX_INTERVAL_MINUTES:
        return f"more than 0 and at most {MAX_INTERVAL_MINUTES} minutes (one week)"
    return None


def source_problem(value: str, answers: Answers, path: Path) -> str | None:
    """Why this folder cannot be a mount: missing, or what the config's own checks say
    (not /, not the home folder, not a folder mounted already...)."""
    source = Path(value).expanduser()
    if not source.is_absolute():
        return "an absolute path (or one starting with ~)"
    if not source.is_dir():
        return "no such folder"
    candidate = Answers(answers.vms, [*answers.mounts, MountAnswer(source, answers.vms[0].name, 5)])
    try:
        parse_config(render(candidate, None), path)
    except ConfigError as exc:
        return "; ".join(_short(p) for p in exc.problems) or exc.message
    return None


def _short(problem: str) -> str:
    """A config problem without its file:line and key path: the answer is the value."""
    return re.sub(r"^\S+:\d+: \S+: ", "", problem)


def agent_name_problem(value: str, answers: Answers) -> str | None:
    if any(agent.name == value for agent in answers.agents):
        return f"there is an agent {value} already"
    return _why(checks.agent_name, value)


def env_names(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part for part in re.split(r"[\s,]+", value) if part))


def env_problem(value: str) -> str | None:
    """Names only: the config gets `NAME: ${NAME}`, never a key itself."""
    for name in env_names(value):
        if "=" in name or _why(checks.env_name, name):
            return (
                "give the names of variables only (e.g. ANTHROPIC_API_KEY), never a key: "
                "the config reads the key from your environment"
            )
    return None


def render(answers: Answers, host: HostCapacity | None, *, date: str = "") -> str:
    """The config as commented YAML."""
    stamp = f" on {date}" if date else ""
    out = [
        f"# Written by `agsekit config-gen`{stamp}. `agsekit config-example` shows every key,\n",
        "# `agsekit config-check` checks this file, and `agsekit addmount` adds folders.\n",
        "\n",
    ]
    out += _vms(answers.vms, host)
    out += ["\n", *_mounts(answers.mounts)]
    out += ["\n", *_agents(answers.agents)]
    return "".join(out)


def _line(text: str, comment: str = "") -> str:
    if not comment:
        return text + "\n"
    shown = "".join(char if char.isprintable() else "?" for char in comment)  # one line
    return f"{text.ljust(COMMENT_COLUMN - 1)} # {shown}\n"


def _vms(vms: Sequence[VmAnswer], host: HostCapacity | None) -> list[str]:
    cpus = f" (this host has {host.cpus})" if host else ""
    ram = f" (this host has {format_size(host.memory)})" if host else ""
    lines = [_line("vms:", "the Multipass VMs the agents run in")]
    for vm in vms:
        lines += [
            _line(f"  {vm.name}:"),
            _line(f"    cpu: {vm.cpu}", f"vCPUs{cpus}"),
            _line(f"    ram: {vm.ram}", f"memory{ram}"),
            _line(f"    disk: {vm.disk}", "disk size; it can only grow later"),
        ]
    return lines


def _mounts(mounts: Sequence[MountAnswer]) -> list[str]:
    if not mounts:
        return [_line("mounts: []", "none yet: `agsekit addmount FOLDER` adds one")]
    lines = [_line("mounts:", "project folders shared with a VM, snapshotted on the host")]
    sources = [m.source for m in mounts]
    for mount in mounts:
        store = default_backup(mount.source, sources)
        lines += [
            _line(f"  - source: {scalar(str(mount.source))}", f"snapshots in {store}"),
            _line(f"    vm: {mount.vm}"),
            _line(f"    interval: {mount.interval:g}", "minutes between snapshot checks"),
        ]
    return lines


def _agents(agents: Sequence[AgentAnswer]) -> list[str]:
    if not agents:
        return [_line("agents: {}", "none yet; see `agsekit config-example`")]
    lines = [_line("agents:", "started with `agsekit run NAME` in a mounted folder")]
    for agent in agents:
        lines += [
            _line(f"  {agent.name}:"),
            _line(f"    type: {agent.type}", CATALOGUE[agent.type].title),
            _line(f"    vm: {agent.vm}"),
        ]
        if agent.env:
            lines.append(_line("    env:", "${NAME} is read from your environment at each run"))
            lines += [_line(f"      {name}: ${{{name}}}") for name in agent.env]
    return lines
