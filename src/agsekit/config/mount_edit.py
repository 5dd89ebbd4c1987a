"""addmount and removemount as planned edits of the config file (see edit.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agsekit.agents.starter import starter_vms
from agsekit.config.edit import Edit, plan_edit, read_config_text
from agsekit.config.load import parse_config
from agsekit.config.model import Config, MountSpec
from agsekit.config.mount_text import Scalar, add_entry, remove_entry
from agsekit.core.errors import UsageError


@dataclass(frozen=True)
class NewMount:
    source: Path  # absolute
    target: str | None = None
    backup: str | None = None
    interval: float | None = None
    vm: str | None = None

    def entry(self) -> dict[str, Scalar]:
        """The keys to write: the source, and only the options given."""
        keys: dict[str, Scalar | None] = {
            "source": str(self.source),
            "target": self.target,
            "backup": self.backup,
            "interval": self.interval,
            "vm": self.vm,
        }
        return {key: value for key, value in keys.items() if value is not None}


def plan_add_mount(path: Path, mount: NewMount) -> Edit:
    """The config with mount added; with no config file, a starter one with this mount."""
    old = read_config_text(path)
    if old is None:
        base = starter_vms("agsekit addmount")
    else:
        base = old
        current = parse_config(old, path)
        existing = _same_source(current, mount.source)
        if existing is not None:
            raise UsageError(
                f"{mount.source} is already a mount: mounts[{current.mounts.index(existing)}] "
                f"of {path} (in VM {existing.vm} at {existing.target}, snapshots in "
                f"{existing.backup})",
                hint="agsekit removemount removes it",
            )
    return plan_edit(path, old, add_entry(base, mount.entry(), path))


def plan_remove_mount(path: Path, source: Path, vm: str | None) -> tuple[Edit, MountSpec]:
    """The config without the mount of this source, and that mount as it was."""
    old = read_config_text(path)
    if old is None:
        raise UsageError(f"no configuration file at {path}, so no mount to remove")
    current = parse_config(old, path)
    spec = _same_source(current, source)
    if spec is None:
        raise UsageError(f"{source} is not a mount of {path}", hint=_known(current, source))
    if vm is not None and spec.vm != vm:
        raise UsageError(f"{source} is mounted into the VM {spec.vm}, not {vm}")
    index = current.mounts.index(spec)
    return plan_edit(path, old, remove_entry(old, index, path)), spec


def _same_source(config: Config, source: Path) -> MountSpec | None:
    real = os.path.realpath(source)
    for spec in config.mounts:
        if spec.source == source or os.path.realpath(spec.source) == real:
            return spec
    return None


def _known(config: Config, source: Path) -> str:
    holder = config.mount_for(source)
    if holder is not None:
        return f"it lies inside the mount {holder.source}; name that folder to remove it"
    return "mount sources: " + (", ".join(str(m.source) for m in config.mounts) or "none")
