"""ssh and portforward: agsekit's own ssh access to the VMs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from agsekit.cli.options import config_option, load

if TYPE_CHECKING:
    from agsekit.config.model import Config, Forward

REMOTE_COMMAND = "remote_command"


class SshCommand(click.Command):
    """Keeps what follows the first `--` for the VM (click would drop the `--` itself,
    and with it the difference between ssh's options and the command)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[REMOTE_COMMAND] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


@click.command(
    "ssh",
    cls=SshCommand,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@config_option
@click.argument("vm")
@click.argument("ssh_args", nargs=-1, type=click.UNPROCESSED, metavar="[SSH_ARGS]...")
@click.pass_context
def ssh(ctx: click.Context, config_path: str | None, vm: str, ssh_args: tuple[str, ...]) -> None:
    """Open ssh to a running VM with agsekit's own key, as its default user.

    SSH_ARGS are ssh's own options, passed on as they are; a command for the VM follows
    `--` (or the first word that is not an option, as with ssh itself). The first time,
    agsekit makes its key pair in ~/.config/agsekit/ssh, puts the public key into the
    VM, and pins the VM's host key in its own known_hosts there (a changed host key is
    refused). The user's ~/.ssh/config is not read.

    \b
    Examples:
      agsekit ssh agent-ubuntu
      agsekit ssh agent-ubuntu -L 8080:localhost:8080
      agsekit ssh agent-ubuntu -- ls -la
      agsekit ssh agent-ubuntu -t -- htop
    """
    from agsekit.network import sshaccess
    from agsekit.tools import ssh as ssh_tool
    from agsekit.vm.backends import default_backend
    from agsekit.vm.selection import vm_spec

    name = vm_spec(load(config_path), vm).name
    options, command = ssh_tool.split_arguments(ssh_args)
    command += ctx.meta.get(REMOTE_COMMAND, [])
    identity, destination = sshaccess.prepare(default_backend(), name)
    sys.stdout.flush()
    ssh_tool.replace_process(ssh_tool.session_argv(identity, destination, options, command))


@click.command("portforward")
@config_option
@click.argument("vms", nargs=-1, metavar="[VM]...")
def portforward(config_path: str | None, vms: tuple[str, ...]) -> None:
    """Keep the VMs' `port-forwarding` up in the foreground, until Ctrl+C.

    One `ssh -N` per VM carries all of its forwards, with agsekit's key (see `agsekit ssh
    --help`). When it ends (the VM stopped or restarted, a network change) it is started
    again after a pause that grows up to 30 s, with the VM's current address. A host port
    that is taken is an error naming the process holding it. The background service
    (`agsekit daemon install`) does the same without this command; `agsekit status` shows
    each forward and whether it is up. Without VM: every VM with forwards.

    \b
    Config (under a VM):
      port-forwarding:
        - {type: remote, host-addr: 127.0.0.1:11434, vm-addr: 127.0.0.1:11434}
        - {type: local, host-addr: 127.0.0.1:8080, vm-addr: 127.0.0.1:3000}
        - {type: socks5, vm-addr: 127.0.0.1:1080}

    \b
    Examples:
      agsekit portforward
      agsekit portforward agent-ubuntu
    """
    import threading
    from datetime import datetime

    from agsekit.cli.signals import stops_as_interrupts
    from agsekit.network.forwards import Forwarding
    from agsekit.vm.backends import default_backend

    wanted = _wanted_forwards(load(config_path), vms)

    def say(text: str) -> None:
        click.echo(f"{datetime.now().strftime('%H:%M:%S')} {text}")

    forwarding = Forwarding(default_backend(), say, "portforward")
    with stops_as_interrupts():
        try:
            forwarding.apply(wanted)
            threading.Event().wait()
        finally:
            forwarding.stop()


def _wanted_forwards(config: Config, vms: tuple[str, ...]) -> dict[str, tuple[Forward, ...]]:
    """The forwards to keep up, checked first: a taken host port or a VM whose forwards
    another agsekit keeps up is an error before anything starts."""
    from agsekit.core.errors import UsageError
    from agsekit.network import forwardstate, ports
    from agsekit.vm.selection import vm_spec

    names = [vm_spec(config, name).name for name in vms] or list(config.vms)
    wanted = {name: config.vms[name].forwards for name in names if config.vms[name].forwards}
    if not wanted:
        raise UsageError(
            "no port-forwarding configured" + (f" for {', '.join(vms)}" if vms else ""),
            hint="add port-forwarding under a VM in the config (see agsekit config-example)",
        )
    for name, forwards in wanted.items():
        with forwardstate.runner_lock(name):  # Busy when kept up; ends a killed one's ssh
            pass
        for forward in forwards:
            if forward.listens_on_host and forward.host_addr is not None:
                ports.check_free(forward.host_addr)
    return wanted
