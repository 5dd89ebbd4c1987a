"""VM lifecycle: create-vms, create-vm, resize-vm, start-vm, stop-vm, restart-vm, destroy-vm."""

from __future__ import annotations

import sys

import click

from agsekit.cli import completion
from agsekit.cli.options import config_option, load

IGNORE_CAPACITY_HELP = (
    "Launch even when the configured VMs leave the host less than 1 CPU and 1 GiB of RAM."
)


def confirm(question: str, yes: bool) -> None:
    """Ask unless --yes; without a terminal to ask on, insist on --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        from agsekit.core.errors import UsageError

        raise UsageError(f"{question} (not asking without a terminal)", hint="pass --yes")
    click.confirm(question, abort=True)


@click.command("create-vms")
@config_option
@click.option("--ignore-capacity", is_flag=True, help=IGNORE_CAPACITY_HELP)
def create_vms(config_path: str | None, ignore_capacity: bool) -> None:
    """Create every VM of the config that does not exist yet.

    Each VM is launched with its cpu, ram, disk and cloud-init from the config. For a VM
    that already exists, the configured resources are compared with the real ones and
    every difference is printed (apply them with `agsekit resize-vm NAME`). Then the
    bundles of each running VM's `install:` that are missing are installed (as
    `agsekit provision` does). Before
    launching, agsekit checks that the host keeps at least 1 CPU and 1 GiB of RAM free
    after all configured VMs.

    \b
    Example:
      agsekit create-vms
    """
    _create(config_path, None, ignore_capacity)


@click.command("create-vm")
@click.argument("name", shell_complete=completion.vms)
@config_option
@click.option("--ignore-capacity", is_flag=True, help=IGNORE_CAPACITY_HELP)
def create_vm(name: str, config_path: str | None, ignore_capacity: bool) -> None:
    """Create one VM of the config (or compare it with the config if it exists), then
    install the missing bundles of its `install:` (as `agsekit provision` does).

    \b
    Example:
      agsekit create-vm agent-ubuntu
    """
    _create(config_path, name, ignore_capacity)


def _create(config_path: str | None, name: str | None, ignore_capacity: bool) -> None:
    from agsekit.cli.render import TerminalReporter
    from agsekit.provision.run import provision_running
    from agsekit.vm.backends import default_backend
    from agsekit.vm.lifecycle import create_vms as create
    from agsekit.vm.selection import pick_vms

    config = load(config_path)
    names = pick_vms(config, name, all_vms=name is None)
    backend, reporter = default_backend(), TerminalReporter()
    create(config, names, backend, reporter, ignore_capacity=ignore_capacity)
    provision_running(config, names, backend, reporter)


@click.command("resize-vm")
@click.argument("name", shell_complete=completion.vms)
@config_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask before stopping the VM.")
def resize_vm(name: str, config_path: str | None, yes: bool) -> None:
    """Give an existing VM the cpu, ram and disk of the config.

    The VM is stopped, the new values are applied and it is started again (with its
    mounts) if it was running. A disk can only grow: a smaller configured disk is
    reported and left as it is.

    \b
    Example:
      agsekit resize-vm agent-ubuntu --yes
    """
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.backends import default_backend
    from agsekit.vm.lifecycle import apply_resize, resize_plan
    from agsekit.vm.selection import vm_spec

    config = load(config_path)
    spec = vm_spec(config, name)
    backend = default_backend()
    reporter = TerminalReporter()
    status, plan = resize_plan(spec, backend)
    if not plan.changes:
        if not plan.impossible:
            reporter.info(f"VM {name} already has the configured resources")
        apply_resize(config, spec, status=status, plan=plan, backend=backend, reporter=reporter)
        return
    if status.state != "Stopped":
        confirm(f"VM {name} is {status.state.lower()} and will be stopped to resize. Go on?", yes)
    apply_resize(config, spec, status=status, plan=plan, backend=backend, reporter=reporter)


@click.command("start-vm")
@click.argument("name", required=False, shell_complete=completion.vms)
@click.option("--all", "all_vms", is_flag=True, help="Start every VM of the config.")
@config_option
def start_vm(name: str | None, all_vms: bool, config_path: str | None) -> None:
    """Start a VM and mount its configured folders.

    Multipass drops a mount that fails to come back after a start, so agsekit mounts every
    configured folder that is missing. Without NAME: the VM of the mount holding the current
    folder, else the first VM of the config.

    \b
    Examples:
      agsekit start-vm agent-ubuntu
      agsekit start-vm --all
    """
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.backends import default_backend
    from agsekit.vm.lifecycle import start_vm as start
    from agsekit.vm.selection import pick_vms

    config = load(config_path)
    backend, reporter = default_backend(), TerminalReporter()
    for vm_name in pick_vms(config, name, all_vms):
        start(config, vm_name, backend, reporter)


@click.command("stop-vm")
@click.argument("name", required=False, shell_complete=completion.vms)
@click.option("--all", "all_vms", is_flag=True, help="Stop every VM of the config.")
@click.option("--force", is_flag=True, help="Power off at once instead of shutting down.")
@config_option
def stop_vm(name: str | None, all_vms: bool, force: bool, config_path: str | None) -> None:
    """Stop a VM (without NAME: the VM of the current folder's mount, else the first).

    \b
    Examples:
      agsekit stop-vm agent-ubuntu
      agsekit stop-vm --all --force
    """
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.backends import default_backend
    from agsekit.vm.lifecycle import stop_vm as stop
    from agsekit.vm.selection import pick_vms

    config = load(config_path)
    backend, reporter = default_backend(), TerminalReporter()
    for vm_name in pick_vms(config, name, all_vms):
        stop(vm_name, backend, reporter, force=force)


@click.command("restart-vm")
@click.argument("name", required=False, shell_complete=completion.vms)
@click.option("--all", "all_vms", is_flag=True, help="Restart every VM of the config.")
@config_option
def restart_vm(name: str | None, all_vms: bool, config_path: str | None) -> None:
    """Restart a VM (or start it if it is stopped) and mount its configured folders.

    \b
    Example:
      agsekit restart-vm agent-ubuntu
    """
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.backends import default_backend
    from agsekit.vm.lifecycle import restart_vm as restart
    from agsekit.vm.selection import pick_vms

    config = load(config_path)
    backend, reporter = default_backend(), TerminalReporter()
    for vm_name in pick_vms(config, name, all_vms):
        restart(config, vm_name, backend, reporter)


@click.command("destroy-vm")
@click.argument("name", required=False, shell_complete=completion.vms)
@click.option("--all", "all_vms", is_flag=True, help="Every VM of the config.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@config_option
def destroy_vm(name: str | None, all_vms: bool, yes: bool, config_path: str | None) -> None:
    """Delete a VM and purge it, with everything stored inside it (--all: every VM of
    the config; those that do not exist are skipped).

    Folders mounted from the host and their snapshots are not touched.

    \b
    Examples:
      agsekit destroy-vm agent-ubuntu --yes
      agsekit destroy-vm --all
    """
    from agsekit.cli.render import TerminalReporter
    from agsekit.core.errors import UsageError
    from agsekit.vm.backends import default_backend
    from agsekit.vm.lifecycle import destroy_vm as destroy

    if name and all_vms:
        raise UsageError("give a VM name or --all, not both")
    backend, reporter = default_backend(), TerminalReporter()
    if all_vms:
        config = load(config_path)
        present = [vm for vm in config.vms if backend.status(vm) is not None]
        if not present:
            reporter.info("none of the config's VMs exists; nothing to delete")
            return
        confirm(f"Delete the VMs {', '.join(present)} and everything inside them for good?", yes)
        for vm in present:
            destroy(vm, backend, reporter)
        return
    config = load(config_path, required=False)
    if not name:
        from agsekit.cli.choose import choose

        failure = UsageError(
            "no VM was named", hint="give its name, or --all for every VM of the config"
        )
        name = choose("VM", [vm for vm in config.vms if backend.status(vm) is not None], failure)
    unknown = "" if name in config.vms else " (it is not in the config)"
    confirm(f"Delete the VM {name}{unknown} and everything inside it for good?", yes)
    destroy(name, backend, reporter)
