"""Whether the agents that share a VM are kept apart, and what the user is told.

Apart means: each runs as its own user, from an install only root can change, so one
cannot read another's environment (/proc/PID/environ), config files or replace its
program. That fails when an agent runs as the VM's default user, who has passwordless
sudo and can read everything: `isolation: none`, or an agent installed the old way (by an
older agsekit, or in a VM without passwordless sudo), as install-agents recorded it.

What users of their own cannot fix are the mounted folders: every user in the VM reads
and writes them (Multipass' sshfs mounts check nothing in the guest, and on the host only
who owns the file there; a --uid-map cannot tell guest users apart). So an agent can leave
code in a shared folder (a git hook, a build script) that another agent then runs with its
own key in its environment. `run` therefore refuses an agent with keys in a VM where
another agent with keys works too, unless told --share-mount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agsekit.agents.identity import has_secrets, isolated
from agsekit.agents.install import vm_of
from agsekit.config.model import AgentSpec, Config

Records = Mapping[str, Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class Exposure:
    vm: str
    agents: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def message(self) -> str:
        return (
            f"the agents in {self.vm} ({', '.join(self.agents)}) can read each other's keys: "
            + "; ".join(self.reasons)
        )

    hint = (
        "run `agsekit install-agents` to give each agent a user of its own (with the "
        "default `isolation: user`), or give the agents separate VMs"
    )


def agents_in(config: Config, vm: str) -> list[AgentSpec]:
    return [a for a in config.agents.values() if vm_of(a, config) == vm]


def exposure(config: Config, vm: str, records: Records) -> Exposure | None:
    """Why the agents of vm are not kept apart, when several share it and one is not."""
    agents = agents_in(config, vm)
    if len(agents) < 2:
        return None
    reasons = [r for a in agents if (r := _not_apart(a, records.get(vm, {}))) is not None]
    if not reasons:
        return None
    return Exposure(vm, tuple(a.name for a in agents), tuple(reasons))


def _not_apart(agent: AgentSpec, records: Mapping[str, Mapping[str, Any]]) -> str | None:
    if not isolated(agent):
        return f"{agent.name} runs as the VM's user (isolation: none)"
    record = records.get(agent.name)
    if record is not None and not record.get("isolated", False):
        return f"{agent.name} was installed the old way, as the VM's user"
    return None


def exposures(config: Config, records: Records) -> list[Exposure]:
    found = [exposure(config, vm, records) for vm in config.vms]
    return [e for e in found if e is not None]


def sharing_with(config: Config, agent: AgentSpec, vm: str) -> list[str]:
    """Other agents with keys that work on the same VM's folders as agent (which has keys)."""
    if not has_secrets(agent):
        return []
    return [
        other.name
        for other in agents_in(config, vm)
        if other.name != agent.name and has_secrets(other)
    ]


def sharing_warnings(config: Config) -> list[str]:
    """For config-check: each agent with keys that run would refuse without --share-mount."""
    if not config.vms:
        return []
    found = []
    for agent in config.agents.values():
        vm = vm_of(agent, config)
        others = sharing_with(config, agent, vm)
        if others:
            found.append(
                f"{agent.name} has keys and works on the folders of {vm} with "
                f"{_which_have(others)} keys too: `agsekit run {agent.name}` refuses that "
                "unless --share-mount (an agent can leave code there that another runs with "
                "its key)"
            )
    return found


def sharing_message(agent: str, vm: str, others: list[str]) -> str:
    return (
        f"{agent} has keys and shares the folders of {vm} with {_which_have(others)} keys "
        "too: an agent can leave code in a shared folder (a git hook, a build script) that "
        "another then runs with its own key in its environment, and no mount mapping can "
        "tell the agents apart in a folder both can write"
    )


def _which_have(names: list[str]) -> str:
    return f"{', '.join(names)}, which {'has' if len(names) == 1 else 'have'}"


SHARING_HINT = (
    "give each agent with keys its own VM (`vm:` on the agent, and mount its projects "
    "there), or pass --share-mount to run it anyway"
)
