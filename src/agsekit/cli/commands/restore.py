"""backup-restore: bring a snapshot, or some paths in it, back."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agsekit.cli.history_render import show_path
from agsekit.cli.store_args import StoreTarget, resolve_store, store_options

if TYPE_CHECKING:
    from agsekit.snapshots.restore.run import RestoreRun

SHOWN_PER_KIND = 100


@click.command("backup-restore")
@click.argument("paths", nargs=-1, metavar="[PATH ...]")
@store_options
@click.option("--snapshot", "snapshot", metavar="NAME", help="The snapshot to restore (or latest).")
@click.option(
    "--at", "at", metavar="TIME", help="The newest snapshot at or before TIME ('1h ago')."
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
    to_dir: Path | None,
    in_place: bool,
    delete: bool,
    dry_run: bool,
    force: bool,
) -> None:
    """Copy a snapshot (or only the PATHs inside it) into DIR, or back into the live folder.

    An in-place restore first takes a snapshot of the live folder, so the restore itself
    can be undone; it prints the command that does that. Files the snapshot does not hold
    are kept unless --delete is given (files your .backupignore leaves out are never
    removed). Restored files are copies with their modes, times and symlinks.

    PATHs are relative to the current folder when you are inside the backed-up folder,
    else to its root.

    \b
    Examples:
      agsekit backup-restore --dest-dir ~/backups-proj --at '10 min ago' --in-place src/
      agsekit backup-restore --mount ~/proj --snapshot latest --to /tmp/proj-copy
    """
    from agsekit.core.errors import UsageError
    from agsekit.snapshots.history.catalog import at_time, resolve_name

    if (snapshot is None) == (at is None):
        raise UsageError("choose the snapshot with --snapshot NAME or --at TIME (one)")
    if (to_dir is None) == (not in_place):
        raise UsageError("choose where to restore: --to DIR or --in-place (one)")
    target = resolve_store(dest_dir, mount_path, config_path)
    if at is not None:
        from agsekit.cli.history_render import parse_time

        name = at_time(target.store, parse_time(at, "--at"))
    else:
        name = resolve_name(target.store, snapshot or "")
    if in_place:
        from agsekit.snapshots.history.catalog import live_source

        source = live_source(target.store, target.source)
        rels = _tree_paths(paths, source)
        run_in_place(target, name, source, rels, delete=delete, dry_run=dry_run)
    elif to_dir is not None:
        _run_to_folder(
            target,
            name,
            folder=to_dir.expanduser(),
            paths=paths,
            delete=delete,
            dry_run=dry_run,
            force=force,
        )


def _tree_paths(paths: tuple[str, ...], source: Path) -> list[bytes]:
    from agsekit.snapshots.history.selection import tree_path

    return [tree_path(p, source, Path.cwd()) for p in paths]


def _run_to_folder(
    target: StoreTarget,
    name: str,
    *,
    folder: Path,
    paths: tuple[str, ...],
    delete: bool,
    dry_run: bool,
    force: bool,
) -> None:
    from agsekit.cli.render import TerminalReporter
    from agsekit.snapshots.restore.run import restore_to_folder

    source = target.store.recorded_source() or target.source
    rels = _tree_paths(paths, source) if source is not None else _plain_paths(paths)
    run = restore_to_folder(
        target.store,
        name,
        folder,
        rels,
        TerminalReporter(),
        source=source,
        delete=delete,
        force=force,
        dry_run=dry_run,
    )
    _report(run, name, folder, target)


def _plain_paths(paths: tuple[str, ...]) -> list[bytes]:
    from agsekit.snapshots.history.selection import tree_path

    return [tree_path(p, Path("/nonexistent-root"), Path("/")) for p in paths]


def run_in_place(
    target: StoreTarget,
    name: str,
    source: Path,
    rels: list[bytes],
    *,
    delete: bool,
    dry_run: bool,
) -> None:
    """The in-place restore shared by backup-restore and backup-history --restore."""
    from agsekit.cli.render import TerminalReporter
    from agsekit.snapshots.keep.alarm import after_snapshot
    from agsekit.snapshots.restore.run import restore_in_place

    reporter = TerminalReporter()

    def alarm_check(outcome: Any) -> None:
        from agsekit.config.model import AlarmPolicy
        from agsekit.core.errors import ConfigError

        try:
            _retention, alarm = target.policies()
        except ConfigError:  # a broken config must not stop a restore half-way
            alarm = AlarmPolicy()
        after_snapshot(target.store, outcome, reporter, alarm=alarm)

    run = restore_in_place(
        target.store,
        name,
        source,
        rels,
        reporter,
        delete=delete,
        dry_run=dry_run,
        after_snapshot=alarm_check,
    )
    _report(run, name, source, target)


def _report(run: RestoreRun, name: str, folder: Path, target: StoreTarget) -> None:
    plan = run.plan
    if run.result is None:
        click.echo(f"Dry run: restoring {name} into {folder} would")
        _list("create", plan.create)
        _list("overwrite", plan.overwrite)
        _list("delete", plan.delete)
        if not plan.changes:
            click.echo("  change nothing: it already matches the snapshot")
        _mention_kept(plan.kept)
        click.echo("Nothing was changed.")
        return
    if run.safety is not None:
        _report_safety(run, target)
    result = run.result
    click.echo(
        f"Restored {name} into {folder}: {result.files} file(s), {result.links} symlink(s), "
        f"{result.folders} new folder(s); {result.deleted} removed; "
        f"{plan.unchanged} already matched."
    )
    _mention_kept(plan.kept)
    if run.safety is not None and run.safety.name is not None:
        undo = [
            "agsekit",
            "backup-restore",
            "--dest-dir",
            str(target.store.dest),
            "--snapshot",
            run.safety.name,
            "--in-place",
            "--delete",
        ]
        click.echo(f"To undo this restore:\n  {shlex.join(undo)}")


def _report_safety(run: RestoreRun, target: StoreTarget) -> None:
    safety = run.safety
    if safety is None:
        return
    if safety.name is None:
        click.echo("The live folder held no files: there was nothing to save before restoring.")
    elif safety.created:
        click.echo(f"Saved the state before the restore as snapshot {safety.name}.")
    else:
        click.echo(
            f"Nothing had changed since snapshot {safety.name}: it holds the state before "
            "the restore."
        )


def _list(verb: str, paths: list[bytes]) -> None:
    for path in paths[:SHOWN_PER_KIND]:
        click.echo(f"  {verb} {show_path(path)}")
    if len(paths) > SHOWN_PER_KIND:
        click.echo(f"  ... and {len(paths) - SHOWN_PER_KIND} more to {verb}")


def _mention_kept(kept: list[bytes]) -> None:
    if kept:
        shown = ", ".join(show_path(p) for p in kept[:5]) + (" ..." if len(kept) > 5 else "")
        click.echo(
            f"Kept {len(kept)} path(s) the snapshot does not hold ({shown}); add --delete "
            "to remove them."
        )
