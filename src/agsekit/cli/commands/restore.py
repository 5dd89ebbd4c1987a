"""backup-restore: bring a snapshot, or some paths in it, back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from agsekit.cli import completion
from agsekit.cli.store_args import StoreTarget, resolve_store, store_options

if TYPE_CHECKING:
    from agsekit.snapshots.restore.plan import Wanted


@click.command("backup-restore")
@click.argument("paths", nargs=-1, metavar="[PATH ...]")
@store_options
@click.option(
    "--snapshot",
    "snapshot",
    metavar="NAME",
    help="The snapshot to restore (or latest).",
    shell_complete=completion.snapshots,
)
@click.option(
    "--at", "at", metavar="TIME", help="The newest snapshot taken at or before TIME ('1h ago')."
)
@click.option(
    "--lost-in",
    "lost_in",
    metavar="ALARM",
    help="Every file a mass-deletion alarm found lost (its ID, or latest), each from the "
    "newest snapshot that holds it.",
    shell_complete=completion.snapshots,
)
@click.option(
    "--to",
    "to_dir",
    metavar="DIR",
    type=click.Path(path_type=Path),
    help="Restore into DIR (new or empty).",
)
@click.option("--in-place", is_flag=True, help="Restore into the live folder itself.")
@click.option("--delete", is_flag=True, help="Also remove files the snapshot does not hold.")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--force", is_flag=True, help="Allow --to a folder that is not empty.")
def backup_restore(
    *,
    paths: tuple[str, ...],
    dest_dir: Path | None,
    mount_path: Path | None,
    config_path: str | None,
    snapshot: str | None,
    at: str | None,
    lost_in: str | None,
    to_dir: Path | None,
    in_place: bool,
    delete: bool,
    dry_run: bool,
    force: bool,
) -> None:
    """Copy a snapshot (or only the PATHs inside it) into DIR, or back into the live folder.

    An in-place restore first takes a snapshot holding everything it will overwrite or
    remove (pinned, so retention keeps it), and prints the command that undoes the
    restore. Files the snapshot does not hold are kept unless --delete is given; paths
    the snapshot's own ignore rules leave out are never removed or replaced. Restored
    files are copies with their modes, times, holes and symlinks.

    PATHs are relative to the current folder when you are inside the backed-up folder,
    else to its root.

    \b
    Examples:
      agsekit backup-restore --dest-dir ~/backups-proj --at '10 min ago' --in-place src/
      agsekit backup-restore --mount ~/proj --snapshot latest --to /tmp/proj-copy
      agsekit backup-restore --mount ~/proj --lost-in latest --in-place
    """
    from agsekit.core.errors import UsageError

    if sum(x is not None for x in (snapshot, at, lost_in)) != 1:
        raise UsageError("choose what to restore: --snapshot NAME, --at TIME or --lost-in ALARM")
    if (to_dir is None) == (not in_place):
        raise UsageError("choose where to restore: --to DIR or --in-place (one)")
    if lost_in is not None and (paths or delete):
        raise UsageError(
            "--lost-in restores exactly what the alarm recorded: no PATHs, no --delete"
        )
    target = resolve_store(dest_dir, mount_path, config_path)
    wanted = _wanted(target, snapshot, at, lost_in, paths)
    if in_place:
        from agsekit.cli.restoring import run_in_place

        run_in_place(target, wanted, target.live_source(), delete=delete, dry_run=dry_run)
    elif to_dir is not None:
        _run_to_folder(
            target, wanted, folder=to_dir.expanduser(), delete=delete, dry_run=dry_run, force=force
        )


def _wanted(
    target: StoreTarget,
    snapshot: str | None,
    at: str | None,
    lost_in: str | None,
    paths: tuple[str, ...],
) -> list[Wanted]:
    from agsekit.snapshots.history.catalog import at_time, resolve_name
    from agsekit.snapshots.restore.plan import Wanted

    if lost_in is not None:
        from agsekit.snapshots.keep.records import lost_in_alarm

        return list(lost_in_alarm(target.store, lost_in))
    if at is not None:
        from agsekit.cli.history_render import parse_time

        name = at_time(target.store, parse_time(at, "--at"))
    else:
        name = resolve_name(target.store, snapshot or "")
    return [Wanted(name, tuple(target.tree_paths(paths)))]


def _run_to_folder(
    target: StoreTarget,
    wanted: list[Wanted],
    *,
    folder: Path,
    delete: bool,
    dry_run: bool,
    force: bool,
) -> None:
    from agsekit.cli.render import TerminalReporter
    from agsekit.cli.restoring import report
    from agsekit.snapshots.restore.run import restore_to_folder

    source = target.source_or_none()
    run = restore_to_folder(
        target.store,
        wanted,
        folder,
        TerminalReporter(),
        source=source,
        delete=delete,
        force=force,
        dry_run=dry_run,
    )
    report(run, folder, target)
