"""Which configured VMs and mounts a command acts on."""

from __future__ import annotations

from pathlib import Path

from agsekit.config.model import Config, MountSpec, VmSpec
from agsekit.core.errors import UsageError


def vm_spec(config: Config, name: str) -> VmSpec:
    spec = config.vms.get(name)
    if spec is None:
        known = ", ".join(config.vms) or "none"
        raise UsageError(
            f"no VM named {name} in the config (configured: {known})",
            hint="add it under `vms:` in the config, or check the name with `agsekit config-check`",
        )
    return spec


def pick_vms(config: Config, name: str | None, all_vms: bool) -> list[str]:
    """NAME, or every configured VM with --all, or the only/first one when neither is given."""
    if name and all_vms:
        raise UsageError("give a VM name or --all, not both")
    if not config.vms:
        raise UsageError("the config has no VMs", hint="add one under `vms:` in the config")
    if all_vms:
        return list(config.vms)
    if name:
        return [vm_spec(config, name).name]
    return [default_vm(config)]


def default_vm(config: Config, cwd: Path | None = None) -> str:
    """The VM of the mount holding the current folder, else the first configured VM."""
    mount = config.mount_for(cwd or Path.cwd())
    if mount is not None:
        return mount.vm
    if not config.vms:
        raise UsageError("the config has no VMs", hint="add one under `vms:` in the config")
    return next(iter(config.vms))


def pick_mounts(config: Config, path: str | None, all_mounts: bool) -> list[MountSpec]:
    """The configured mount holding PATH (default: the current folder), or all with --all."""
    if path and all_mounts:
        raise UsageError("give a folder or --all, not both")
    if not config.mounts:
        raise UsageError(
            "the config has no mounts", hint="add a folder under `mounts:` in the config"
        )
    if all_mounts:
        return list(config.mounts)
    where = Path(path).expanduser().absolute() if path else Path.cwd()
    mount = config.mount_for(where)
    if mount is None:
        sources = ", ".join(str(m.source) for m in config.mounts)
        raise UsageError(
            f"{where} is not inside a configured mount (configured: {sources})",
            hint="give one of the configured folders, or --all",
        )
    return [mount]
