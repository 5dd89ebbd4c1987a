"""Mounting the configured folders into their VMs, and taking them out again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agsekit.config.model import Config, MountSpec
from agsekit.core.errors import AgsekitError
from agsekit.core.reporting import Reporter
from agsekit.vm.backend import RUNNING, VmBackend
from agsekit.vm.reconcile import compare_mounts


class MountSourceError(AgsekitError):
    pass


def ensure_mounts(
    config: Config,
    vm_name: str,
    backend: VmBackend,
    reporter: Reporter,
    only: Iterable[MountSpec] | None = None,
) -> list[MountSpec]:
    """Mount each configured folder of vm_name that is not mounted yet; returns those
    mounted now. Starts the VM first when it is stopped."""
    wanted = [m for m in (config.mounts if only is None else only) if m.vm == vm_name]
    if not wanted:
        return []
    status = backend.status(vm_name)
    if status is None or status.deleted:
        raise AgsekitError(
            f"the VM {vm_name} does not exist yet",
            hint=f"create it with `agsekit create-vm {vm_name}`",
        )
    if status.state != RUNNING:
        reporter.info(f"starting VM {vm_name} to mount its folders")
        backend.start(vm_name)
        status = backend.status(vm_name) or status
    comparison = compare_mounts(wanted, status.mounts)
    for spec in comparison.active:
        reporter.info(f"{spec.source} is already mounted at {vm_name}:{spec.target}")
    mounted = []
    for spec in comparison.missing:
        _check_source(spec, backend, reporter)
        if any(m.target.rstrip("/") == spec.target.rstrip("/") for m in status.mounts):
            backend.umount(vm_name, spec.target)  # a different folder sits at this target
        backend.mount(spec.source, vm_name, spec.target)
        reporter.info(f"mounted {spec.source} at {vm_name}:{spec.target}")
        mounted.append(spec)
    return mounted


def _check_source(spec: MountSpec, backend: VmBackend, reporter: Reporter) -> None:
    if not spec.source.is_dir():
        raise MountSourceError(
            f"the folder to mount does not exist: {spec.source}",
            hint="create it, or fix `source` of this mount in the config",
        )
    problem = backend.mount_source_problem(spec.source)
    if problem:
        reporter.warning(f'{problem} (Multipass reports this as "does not exist")')


def unmount(mounts: Sequence[MountSpec], backend: VmBackend, reporter: Reporter) -> list[MountSpec]:
    """Unmount each given configured folder that is mounted; returns those unmounted."""
    done = []
    for vm_name in dict.fromkeys(m.vm for m in mounts):
        status = backend.status(vm_name)
        active = {m.target.rstrip("/"): m for m in (status.mounts if status else ())}
        for spec in (m for m in mounts if m.vm == vm_name):
            if spec.target.rstrip("/") not in active:
                reporter.info(f"{spec.source} is not mounted in {vm_name}")
                continue
            backend.umount(vm_name, spec.target)
            reporter.info(f"unmounted {spec.source} from {vm_name}:{spec.target}")
            done.append(spec)
    return done
