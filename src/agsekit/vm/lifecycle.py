"""Creating, resizing, starting, stopping and destroying the configured VMs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agsekit.config.model import Config, VmSpec
from agsekit.core.errors import AgsekitError
from agsekit.core.reporting import Reporter
from agsekit.network import sshaccess
from agsekit.vm.backend import RUNNING, VmBackend, VmStatus
from agsekit.vm.capacity import HostCapacity, capacity_problems, host_capacity
from agsekit.vm.mounts import ensure_mounts
from agsekit.vm.reconcile import Difference, ResizePlan, plan_resize, resource_differences


class VmMissingError(AgsekitError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"the VM {name} does not exist yet", hint=f"create it with `agsekit create-vm {name}`"
        )


class VmDeletedError(AgsekitError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"the VM {name} was deleted but not purged, so its name is still taken",
            hint=f"purge it with `agsekit destroy-vm {name}`, then create it again",
        )


class CapacityError(AgsekitError):
    pass


@dataclass(frozen=True)
class CreateOutcome:
    name: str
    created: bool
    differences: tuple[Difference, ...]


def existing_status(backend: VmBackend, name: str) -> VmStatus:
    status = backend.status(name)
    if status is None:
        raise VmMissingError(name)
    if status.deleted:
        raise VmDeletedError(name)
    return status


def create_vms(
    config: Config,
    names: Iterable[str],
    backend: VmBackend,
    reporter: Reporter,
    *,
    host: HostCapacity | None = None,
    ignore_capacity: bool = False,
) -> list[CreateOutcome]:
    """Launch the named VMs that do not exist; compare the others with the config."""
    backend.ensure_available()
    states = backend.states()
    specs = [config.vms[name] for name in names]
    for spec in specs:
        if states.get(spec.name) == "Deleted":
            raise VmDeletedError(spec.name)
    to_launch = [s for s in specs if s.name not in states]
    if to_launch:
        _check_capacity(config, host or host_capacity(), reporter, ignore_capacity)
    outcomes = []
    for spec in specs:
        if spec.name in states:
            outcomes.append(_compare_existing(spec, backend, reporter))
        else:
            outcomes.append(_launch(spec, backend, reporter))
    return outcomes


def _check_capacity(config: Config, host: HostCapacity, reporter: Reporter, ignore: bool) -> None:
    problems = capacity_problems(config.vms.values(), host)
    if not problems:
        return
    if ignore:
        for problem in problems:
            reporter.warning(problem)
        return
    raise CapacityError(
        "; ".join(problems),
        hint="lower cpu/ram of the VMs in the config, or pass --ignore-capacity to launch anyway",
    )


def _launch(spec: VmSpec, backend: VmBackend, reporter: Reporter) -> CreateOutcome:
    reporter.info(
        f"creating VM {spec.name}: {spec.cpu} CPU, {spec.ram} RAM, {spec.disk} disk "
        "(the first launch downloads an image and can take several minutes)"
    )
    backend.create(spec)
    reporter.info(f"VM {spec.name} created")
    return CreateOutcome(spec.name, True, ())


def _compare_existing(spec: VmSpec, backend: VmBackend, reporter: Reporter) -> CreateOutcome:
    existing_status(backend, spec.name)
    differences = resource_differences(spec, backend.resources(spec.name))
    if not differences:
        reporter.info(f"VM {spec.name} already exists and matches the config")
    else:
        reporter.info(f"VM {spec.name} already exists and differs from the config:")
        for diff in differences:
            reporter.info(
                f"  {diff.field}: {diff.configured} in the config, {diff.actual} in the VM"
            )
        reporter.info(f"  apply the config with `agsekit resize-vm {spec.name}`")
    return CreateOutcome(spec.name, False, differences)


def resize_plan(spec: VmSpec, backend: VmBackend) -> tuple[VmStatus, ResizePlan]:
    status = existing_status(backend, spec.name)
    return status, plan_resize(spec, backend.resources(spec.name))


def apply_resize(
    config: Config,
    spec: VmSpec,
    *,
    status: VmStatus,
    plan: ResizePlan,
    backend: VmBackend,
    reporter: Reporter,
) -> None:
    """Stop the VM, apply what can be changed, start it again if it was running."""
    if plan.changes:
        if status.state != "Stopped":
            reporter.info(f"stopping VM {spec.name}")
            backend.stop(spec.name)
        backend.set_resources(spec.name, cpus=plan.cpus, memory=plan.memory, disk=plan.disk)
        reporter.info(f"VM {spec.name} now has the configured {_changed(plan)}")
        if status.state == RUNNING:
            start_vm(config, spec.name, backend, reporter)
    for sentence in plan.impossible:
        reporter.warning(f"VM {spec.name}: {sentence}")


def _changed(plan: ResizePlan) -> str:
    parts = [
        f"{label} {value}"
        for label, value in (("cpu", plan.cpus), ("ram", plan.memory), ("disk", plan.disk))
        if value is not None
    ]
    return ", ".join(parts)


def start_vm(config: Config, name: str, backend: VmBackend, reporter: Reporter) -> None:
    """Start the VM, then mount the configured folders that did not come back with it
    (Multipass silently drops a mount that fails to re-activate)."""
    existing_status(backend, name)
    reporter.info(f"starting VM {name}")
    backend.start(name)
    ensure_mounts(config, name, backend, reporter)


def stop_vm(name: str, backend: VmBackend, reporter: Reporter, *, force: bool = False) -> None:
    status = existing_status(backend, name)
    if status.state == "Stopped":
        reporter.info(f"VM {name} is already stopped")
        return
    reporter.info(f"{'powering off' if force else 'stopping'} VM {name}")
    backend.stop(name, force=force)


def restart_vm(config: Config, name: str, backend: VmBackend, reporter: Reporter) -> None:
    status = existing_status(backend, name)
    if status.state != RUNNING:
        start_vm(config, name, backend, reporter)
        return
    reporter.info(f"restarting VM {name}")
    backend.restart(name)
    ensure_mounts(config, name, backend, reporter)


def destroy_vm(name: str, backend: VmBackend, reporter: Reporter) -> None:
    if backend.status(name) is None:
        raise VmMissingError(name)
    backend.destroy(name)
    sshaccess.forget_vm(name)  # a VM made again under this name has a new host key
    reporter.info(f"VM {name} deleted and purged; the mounted folders on the host are untouched")
