"""When a command is missing something it could choose (a VM, a mount, an agent) and a
person is at the terminal, offer the choices instead of failing. Without a terminal the
command fails as before: scripts never wait on a prompt."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from agsekit.core.display import show_path
from agsekit.core.errors import UsageError


def at_terminal() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def choose(what: str, options: Sequence[str], failure: UsageError) -> str:
    """One of options, picked by number at the terminal; else raise failure."""
    if not options or not at_terminal():
        raise failure
    click.echo(f"{failure.message}. Which {what}?", err=True)
    for number, option in enumerate(options, 1):
        click.echo(f"  {number}) {show_path(option)}", err=True)
    picked: int = click.prompt(
        f"{what[:1].upper()}{what[1:]} number", type=click.IntRange(1, len(options)), err=True
    )
    return options[picked - 1]
