"""Pure comparisons: what the config asks for against what the VM manager reports."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from agsekit.config.model import MountSpec, VmSpec
from agsekit.config.sizes import format_size, parse_size
from agsekit.vm.backend import ActiveMount, Resources


@dataclass(frozen=True)
class Difference:
    field: str  # "cpu", "ram" or "disk", as in the config
    configured: str
    actual: str


@dataclass(frozen=True)
class ResizePlan:
    cpus: int | None
    memory: str | None
    disk: str | None
    impossible: tuple[str, ...]  # one sentence per change the manager does not allow

    @property
    def changes(self) -> bool:
        return any(v is not None for v in (self.cpus, self.memory, self.disk))


def wanted(spec: VmSpec) -> Resources:
    return Resources(spec.cpu, parse_size(spec.ram), parse_size(spec.disk))


def resource_differences(spec: VmSpec, actual: Resources) -> tuple[Difference, ...]:
    """Differences between the config and the VM's configured resources. Sizes are compared
    at the precision Multipass reports them (one decimal of the largest unit)."""
    want = wanted(spec)
    found: list[Difference] = []
    if want.cpus != actual.cpus:
        found.append(Difference("cpu", str(want.cpus), str(actual.cpus)))
    for field_name, mine, theirs in (
        ("ram", want.memory, actual.memory),
        ("disk", want.disk, actual.disk),
    ):
        if format_size(mine) != format_size(theirs):
            found.append(Difference(field_name, format_size(mine), format_size(theirs)))
    return tuple(found)


def plan_resize(spec: VmSpec, actual: Resources) -> ResizePlan:
    want = wanted(spec)
    differences = {d.field for d in resource_differences(spec, actual)}
    impossible: list[str] = []
    disk: str | None = None
    if "disk" in differences:
        if want.disk > actual.disk:
            disk = spec.disk
        else:
            impossible.append(
                f"disk cannot shrink from {format_size(actual.disk)} to "
                f"{format_size(want.disk)}; recreate the VM to get a smaller disk"
            )
    return ResizePlan(
        cpus=spec.cpu if "cpu" in differences else None,
        memory=spec.ram if "ram" in differences else None,
        disk=disk,
        impossible=tuple(impossible),
    )


@dataclass(frozen=True)
class MountComparison:
    active: tuple[MountSpec, ...]  # configured and mounted from the right source
    missing: tuple[MountSpec, ...]  # configured, not mounted (or mounted from elsewhere)
    unexpected: tuple[ActiveMount, ...]  # mounted, not in the config


def compare_mounts(
    configured: Iterable[MountSpec], active: Iterable[ActiveMount]
) -> MountComparison:
    by_target = {m.target.rstrip("/") or "/": m for m in active}
    ok: list[MountSpec] = []
    missing: list[MountSpec] = []
    for spec in configured:
        found = by_target.pop(spec.target.rstrip("/") or "/", None)
        if found is not None and _same_path(found.source, str(spec.source)):
            ok.append(spec)
        else:
            missing.append(spec)
            if found is not None:
                by_target[found.target] = found
    return MountComparison(tuple(ok), tuple(missing), tuple(by_target.values()))


def _same_path(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)
