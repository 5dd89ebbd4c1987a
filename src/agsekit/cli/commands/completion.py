"""`agsekit completion SHELL`: print the shell completion script."""

from __future__ import annotations

import click

from agsekit.cli.completion import SHELLS


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL: command names and options, VM, agent and
    mount names from your config, and snapshot names for --snapshot and the commands
    that take one.

    \b
    Install it (then open a new shell):
      bash:  agsekit completion bash > ~/.local/share/bash-completion/completions/agsekit
      zsh:   agsekit completion zsh > ~/.zfunc/_agsekit   # with fpath+=(~/.zfunc) in ~/.zshrc
      fish:  agsekit completion fish > ~/.config/fish/completions/agsekit.fish
    """
    from agsekit.cli.completion import script

    root = ctx.find_root().command
    click.echo(script(shell, root))
