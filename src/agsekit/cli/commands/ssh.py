"""ssh: agsekit's own ssh access to the VMs."""

from __future__ import annotations

import sys

import click

from agsekit.cli.options import config_option, load

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
