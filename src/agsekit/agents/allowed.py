"""`allowed_agents:` on VMs and mounts: which agents may run where.

A mount's files are reachable through more than its own mount: through a mount of a
folder that holds it, through a mount of a folder inside it, and, inside a VM, through
every other folder mounted there (all users of the VM can read every mount). So an agent
may work on a folder only when every rule that covers what it will reach allows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agsekit.config.model import Config, MountSpec
from agsekit.core.errors import UsageError
from agsekit.core.paths import really_within
from agsekit.vm.backend import ActiveMount


def check_allowed(config: Config, agent: str, mount: MountSpec, vm: str) -> None:
    """Refuse (UsageError) an agent that the VM's or an overlapping mount's
    allowed_agents leaves out; checked before anything is started."""
    spec = config.vms.get(vm)
    if spec is not None and _refuses(spec.allowed_agents, agent):
        raise UsageError(
            f"{agent} may not run in the VM {vm}: its allowed_agents is {_shown(spec)}",
            hint=f"add {agent} to vms.{vm}.allowed_agents, or run it in another VM",
        )
    for other in _overlapping(config, mount):
        if _refuses(other.allowed_agents, agent):
            raise UsageError(_refusal(agent, other, mount), hint=_hint(agent, other))


def check_reachable(config: Config, agent: str, vm: str, active: Iterable[ActiveMount]) -> None:
    """Refuse an agent when a folder mounted in its VM right now (by agsekit or by hand,
    whichever VM the config gives it) holds, is or lies inside a folder that does not
    allow it: the agent could read and write it from inside the VM."""
    for mounted in active:
        source = Path(mounted.source)
        for spec in config.mounts:
            overlaps = really_within(source, spec.source) or really_within(spec.source, source)
            if not overlaps or not _refuses(spec.allowed_agents, agent):
                continue
            through = "" if _same(spec.source, source) else f" (through {mounted.source})"
            undo = (
                f"agsekit umount {spec.source}"
                if _same(spec.source, source) and spec.vm == vm
                else f"multipass umount {vm}:{mounted.target}"
            )
            raise UsageError(
                f"{agent} may not work on {spec.source} (allowed_agents: "
                f"{_names(spec.allowed_agents)}), and it is mounted in the VM {vm} "
                f"at {mounted.target}{through}, where {agent} could reach it",
                hint=f"unmount it first ({undo}), or give {agent} a VM of its own",
            )


def _refuses(names: frozenset[str] | None, agent: str) -> bool:
    return names is not None and agent not in names


def _overlapping(config: Config, mount: MountSpec) -> list[MountSpec]:
    """The mount itself, the mounts that hold it and the mounts inside it."""
    return [
        m
        for m in config.mounts
        if really_within(mount.source, m.source) or really_within(m.source, mount.source)
    ]


def _same(a: Path, b: Path) -> bool:
    return really_within(a, b) and really_within(b, a)


def _refusal(agent: str, rule: MountSpec, mount: MountSpec) -> str:
    rules = f"allowed_agents: {_names(rule.allowed_agents)}"
    if rule.source == mount.source:
        return f"{agent} may not work on {mount.source} ({rules})"
    if really_within(mount.source, rule.source):
        return f"{agent} may not work on {mount.source}: it lies inside {rule.source} ({rules})"
    return (
        f"{agent} may not work on {mount.source}: it holds {rule.source} ({rules}), which "
        f"{agent} would reach from there"
    )


def _hint(agent: str, rule: MountSpec) -> str:
    return f"add {agent} to allowed_agents of the mount {rule.source}, or use another agent"


def _shown(spec: object) -> str:
    return _names(getattr(spec, "allowed_agents", None))


def _names(names: frozenset[str] | None) -> str:
    return "[" + ", ".join(sorted(names or ())) + "]"
