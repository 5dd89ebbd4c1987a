"""mount, umount and shell."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from agsekit.cli import completion
from agsekit.cli.options import config_option, load

if TYPE_CHECKING:
    from agsekit.config.model import Config, MountSpec


@click.command("mount")
@click.argument("path", required=False, shell_complete=completion.mounts)
@click.option("--all", "all_mounts", is_flag=True, help="Mount every configured folder.")
@config_option
def mount(path: str | None, all_mounts: bool, config_path: str | None) -> None:
    """Mount a configured folder into its VM (starting the VM if needed).

    PATH is a configured mount source or a folder inside one; without PATH, the mount
    holding the current folder. On Linux, Multipass (a snap) only reads folders under
    /home that are not inside a hidden folder: agsekit warns before mounting any other.

    \b
    Examples:
      agsekit mount ~/projects/my-project
      agsekit mount --all
    """
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.backends import default_backend
    from agsekit.vm.mounts import ensure_mounts

    config = load(config_path)
    chosen = _mounts(config, path, all_mounts)
    backend, reporter = default_backend(), TerminalReporter()
    for vm_name in dict.fromkeys(m.vm for m in chosen):
        ensure_mounts(config, vm_name, backend, reporter, only=chosen)


@click.command("umount")
@click.argument("path", required=False, shell_complete=completion.mounts)
@click.option("--all", "all_mounts", is_flag=True, help="Unmount every configured folder.")
@config_option
def umount(path: str | None, all_mounts: bool, config_path: str | None) -> None:
    """Unmount a configured folder from its VM; the folder on the host is untouched.

    \b
    Examples:
      agsekit umount ~/projects/my-project
      agsekit umount --all
    """
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.backends import default_backend
    from agsekit.vm.mounts import unmount

    config = load(config_path)
    unmount(_mounts(config, path, all_mounts), default_backend(), TerminalReporter())


@click.command("shell")
@click.argument("name", required=False, shell_complete=completion.vms)
@config_option
def shell(name: str | None, config_path: str | None) -> None:
    """Open an interactive shell in a VM.

    Without NAME: the VM of the mount holding the current folder, else the first VM.

    \b
    Example:
      agsekit shell agent-ubuntu
    """
    from agsekit.vm.backends import default_backend
    from agsekit.vm.selection import default_vm, vm_spec

    config = load(config_path)
    vm_name = vm_spec(config, name).name if name else default_vm(config)
    sys.exit(default_backend().shell(vm_name))


def _mounts(config: Config, path: str | None, all_mounts: bool) -> list[MountSpec]:
    """pick_mounts, and at a terminal a list to choose from when the current folder is in
    no mount."""
    from agsekit.cli.choose import choose
    from agsekit.core.errors import UsageError
    from agsekit.vm.selection import pick_mounts

    try:
        return pick_mounts(config, path, all_mounts)
    except UsageError as failure:
        if path or all_mounts or not config.mounts:
            raise
        source = choose("mount", [str(m.source) for m in config.mounts], failure)
        return pick_mounts(config, source, False)
