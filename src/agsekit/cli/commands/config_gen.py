"""config-gen: a new commented config from a few questions on a terminal."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from agsekit.cli.options import config_option


@click.command("config-gen")
@config_option
@click.option(
    "--overwrite", is_flag=True, help="Replace an existing config (kept beside it as a .bak)."
)
def config_gen(config_path: str | None, overwrite: bool) -> None:
    """Write a new config by answering questions: VMs (with this host's CPUs and RAM shown),
    project folders to mount and snapshot (with a default .backupignore for node, python,
    rust or go when the folder has none), and agents (their keys as ${VAR} references to
    your environment, never the keys themselves). Each answer is checked as you type;
    the file is written only once it passes `config-check`.

    Needs a terminal. An existing config is not replaced without --overwrite, and then
    the old one is kept as config.yaml.YYYYMMDDTHHMMSSZ.bak.

    \b
    Examples:
      agsekit config-gen
      agsekit config-gen --config ~/work/agsekit.yaml
      agsekit config-gen --overwrite
    """
    from agsekit.config.edit import read_config_text
    from agsekit.config.paths import resolve_config_path
    from agsekit.core.errors import UsageError

    path = resolve_config_path(config_path)
    old = read_config_text(path)
    if old is not None and not overwrite:
        raise UsageError(
            f"{path} exists, and config-gen does not replace it",
            hint="pass --overwrite (the old file is kept as a .bak), or change it with "
            "agsekit addmount / removemount",
        )
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "config-gen asks its questions on a terminal, and there is none here",
            hint=f"agsekit config-example > {path}  (then edit it), or agsekit addmount -y",
        )
    _generate(path, old)


def _generate(path: Path, old: str | None) -> None:
    from agsekit.cli.config_edits import write_and_tell
    from agsekit.cli.wizard import ask_everything
    from agsekit.config.edit import plan_edit
    from agsekit.config.generate import render
    from agsekit.snapshots.ignore.stacks import write_default_ignore
    from agsekit.vm.capacity import host_capacity

    click.echo(f"A new config for {path}. Ctrl+C stops without writing anything.")
    host = host_capacity()
    result = ask_everything(path, host, Path.cwd())
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    edit = plan_edit(path, old, render(result.answers, host, date=today))
    write_and_tell(edit)
    for source, stacks in result.ignores:
        written = write_default_ignore(source, stacks)
        if written is not None:
            click.echo(f"wrote {written} ({', '.join(stacks)})")
    click.echo("Next: agsekit config-check, then agsekit up.")
