"""addmount and removemount: config edits that keep the rest of the file as it is."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agsekit.cli.config_edits import absolute, confirm_edit, show_diff, write_and_tell
from agsekit.cli.options import config_option

if TYPE_CHECKING:
    from agsekit.config.model import MountSpec

_SOURCE = click.Path(exists=True, file_okay=False, path_type=Path)
_YES = click.option("--yes", "-y", is_flag=True, help="Write the change without asking.")
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Print the change only; write nothing.")


@click.command("addmount")
@click.argument("source", required=False, type=_SOURCE)
@click.option(
    "--target", metavar="PATH", help="Where it appears in the VM (default /home/ubuntu/<name>)."
)
@click.option(
    "--backup", metavar="PATH", help="Snapshot store (default backups-<name> beside the source)."
)
@click.option(
    "--interval", type=float, metavar="MINUTES", help="Minutes between snapshots (default 5)."
)
@click.option("--vm", help="VM to mount it into (default: the first VM of the config).")
@click.option("--mount-now", is_flag=True, help="Mount it into the VM right after the edit.")
@_YES
@_DRY_RUN
@config_option
def addmount(
    source: Path | None,
    target: str | None,
    backup: str | None,
    interval: float | None,
    vm: str | None,
    mount_now: bool,
    yes: bool,
    dry_run: bool,
    config_path: str | None,
) -> None:
    """Add SOURCE (default: the current folder) to the config's mounts.

    Prints the change as a diff and asks before writing it (-y: without asking; without a
    terminal -y is needed). The rest of the file, comments included, stays as it is; the
    previous file is kept beside it as config.yaml.YYYYMMDDTHHMMSSZ.bak. A change that
    would not pass `config-check` is refused. Only the options given are written: the
    defaults are target /home/ubuntu/<folder name>, backup backups-<folder name> beside
    the source, interval 5, the first VM. With no config file, creates one with a VM
    `agsekit` (2 CPUs, 4G RAM, 20G disk) and this mount.

    \b
    Examples:
      cd ~/projects/app && agsekit addmount
      agsekit addmount ~/projects/api --vm agent-ubuntu --interval 10 --mount-now
      agsekit addmount ~/projects/web --backup ~/snapshots/web --dry-run
    """
    from agsekit.config.mount_edit import NewMount, plan_add_mount
    from agsekit.config.paths import resolve_config_path

    path = resolve_config_path(config_path)
    folder = absolute(source or Path.cwd())
    stored = str(absolute(backup)) if backup is not None else None
    edit = plan_add_mount(path, NewMount(folder, target, stored, interval, vm))
    show_diff(edit)
    if dry_run:
        return
    confirm_edit(edit, f"Add {folder} as a mount in {path}?", yes=yes)
    write_and_tell(edit)
    if mount_now:
        from agsekit.cli.render import TerminalReporter
        from agsekit.vm.backends import default_backend
        from agsekit.vm.mounts import ensure_mounts

        added = [m for m in edit.config.mounts if m.source == folder]
        for spec in added:
            reporter = TerminalReporter(out=sys.stderr)
            ensure_mounts(edit.config, spec.vm, default_backend(), reporter, only=[spec])


@click.command("removemount")
@click.argument("source", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--vm", help="Only when it is mounted into this VM.")
@_YES
@_DRY_RUN
@config_option
def removemount(
    source: Path | None, vm: str | None, yes: bool, dry_run: bool, config_path: str | None
) -> None:
    """Remove the mount of SOURCE (default: the current folder) from the config.

    Unmounts it from its VM first when it is mounted, then removes its entry (its own
    lines; comments above it and the rest of the file stay). The folder on the host and
    its snapshots are not touched. Prints the change as a diff and asks first (-y: without
    asking); the previous file is kept as config.yaml.YYYYMMDDTHHMMSSZ.bak.

    \b
    Examples:
      cd ~/projects/app && agsekit removemount
      agsekit removemount ~/projects/api -y
      agsekit removemount ~/projects/api --dry-run
    """
    from agsekit.config.mount_edit import plan_remove_mount
    from agsekit.config.paths import resolve_config_path

    path = resolve_config_path(config_path)
    edit, spec = plan_remove_mount(path, absolute(source or Path.cwd()), vm)
    show_diff(edit)
    if dry_run:
        return
    confirm_edit(edit, f"Remove the mount {spec.source} from {path}?", yes=yes)
    _unmount(spec)
    write_and_tell(edit)
    click.echo(
        f"the folder {spec.source} and its snapshots in {spec.backup} stay as they were",
        err=True,
    )


def _unmount(spec: MountSpec) -> None:
    from agsekit.agents.sessions import running_sessions
    from agsekit.cli.render import TerminalReporter
    from agsekit.core.errors import AgsekitError, ToolNotFoundError
    from agsekit.vm.backends import default_backend
    from agsekit.vm.mounts import unmount

    busy = [s for s in running_sessions() if s.vm == spec.vm and spec.contains(Path(s.folder))]
    if busy:
        raise AgsekitError(
            f"an agent session runs on {spec.source} ({busy[0].agent}, pid {busy[0].pid}); "
            "nothing changed",
            hint="end it first",
        )
    with contextlib.suppress(ToolNotFoundError):  # no Multipass: nothing is mounted
        unmount([spec], default_backend(), TerminalReporter(out=sys.stderr))
