"""Showing a planned config edit, asking for it, and writing it (addmount, removemount,
run's offer to add a mount, config-gen)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agsekit.core.errors import AgsekitError, UsageError

if TYPE_CHECKING:
    from agsekit.config.edit import Edit
    from agsekit.config.model import Config


def show_diff(edit: Edit) -> None:
    """The change on stdout, so that `--dry-run > change.diff` keeps it."""
    click.echo(edit.diff, nl=False)


def confirm_edit(edit: Edit, question: str, *, yes: bool) -> None:
    """Go on when -y or the user says yes on a terminal; never waits without one."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"not changing {edit.path} without a confirmation, and there is no terminal to ask on",
            hint="pass -y to write it without asking, or --dry-run to only see the change",
        )
    if not click.confirm(question, default=False, err=True):
        raise AgsekitError(f"nothing written; {edit.path} is unchanged")


def write_and_tell(edit: Edit) -> None:
    from agsekit.config.edit import write_edit

    backup = write_edit(edit)
    if backup is None:
        click.echo(f"created {edit.path}", err=True)
    else:
        click.echo(f"wrote {edit.path}; the previous version is kept in {backup}", err=True)


def absolute(path: Path | str) -> Path:
    """A path from the command line, absolute from the current folder (a relative path in
    the config would be read from the config's folder instead)."""
    return Path(os.path.abspath(os.path.expanduser(path)))


def offer_mount(path: Path, folder: Path, vm: str | None) -> Config | None:
    """On a terminal, offer to add folder as a mount (default no); the new config when
    it was added, None when not offered or declined."""
    if not sys.stdin.isatty():
        return None
    from agsekit.config.mount_edit import NewMount, plan_add_mount

    click.echo(f"{folder} is not inside any mount of {path}, so the VM cannot see it.", err=True)
    edit = plan_add_mount(path, NewMount(folder, vm=vm))
    click.echo("Adding it as a mount would change the config so:", err=True)
    show_diff(edit)
    if not click.confirm(f"Add {folder} as a mount?", default=False, err=True):
        return None
    write_and_tell(edit)
    return edit.config
