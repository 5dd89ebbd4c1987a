"""Does the host keep enough for itself after all configured VMs?"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from agsekit.config.model import VmSpec
from agsekit.config.sizes import format_size, parse_size

HOST_RESERVED_CPUS = 1
HOST_RESERVED_MEMORY = 1024**3


@dataclass(frozen=True)
class HostCapacity:
    cpus: int
    memory: int


def host_capacity() -> HostCapacity:
    cpus = os.cpu_count() or 1
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return HostCapacity(cpus, memory)


def capacity_problems(vms: Iterable[VmSpec], host: HostCapacity) -> list[str]:
    """One sentence per resource the configured VMs leave the host short of."""
    specs = list(vms)
    cpus = sum(v.cpu for v in specs)
    memory = sum(parse_size(v.ram) for v in specs)
    problems = []
    if cpus > host.cpus - HOST_RESERVED_CPUS:
        problems.append(
            f"the configured VMs use {cpus} CPUs in total, but this host has {host.cpus} "
            f"and must keep {HOST_RESERVED_CPUS} for itself"
        )
    if memory > host.memory - HOST_RESERVED_MEMORY:
        problems.append(
            f"the configured VMs use {format_size(memory)} of RAM in total, but this host has "
            f"{format_size(host.memory)} and must keep {format_size(HOST_RESERVED_MEMORY)} "
            "for itself"
        )
    return problems
