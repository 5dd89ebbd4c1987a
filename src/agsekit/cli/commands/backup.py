"""backup-once, backup-repeated, backup-repeated-mount, backup-repeated-all, backup-repoint."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agsekit.cli.options import config_option, json_option, load, mount_containing

if TYPE_CHECKING:
    from agsekit.cli.store_args import Policies
    from agsekit.core.reporting import Reporter
    from agsekit.snapshots.engine.loop import LoopJob
    from agsekit.snapshots.engine.snapshot import SnapshotOutcome, SnapshotRequest

EXIT_SOURCE_EMPTY = 3
EXIT_INCOMPLETE = 23

_source = click.option(
    "--source-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to snapshot.",
)
_dest = click.option(
    "--dest-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Snapshot folder (created if missing); one timestamped folder per snapshot.",
)
_exclude = click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PATTERN",
    help="Leave out paths matching PATTERN (gitignore syntax; repeatable; wins over "
    ".backupignore files).",
)
_ignore_files = click.option(
    "--ignore-files",
    type=click.Choice(["both", "tree", "host"]),
    default="both",
    show_default=True,
    help="Which rules apply: `tree` the .backupignore files only, `host` only --exclude "
    "(the .backupignore files, which an agent can edit, are not read), `both`.",
)


@click.command("backup-once")
@_source
@_dest
@_exclude
@_ignore_files
@json_option
def backup_once(
    source_dir: Path, dest_dir: Path, excludes: tuple[str, ...], ignore_files: str, as_json: bool
) -> int:
    """Take one snapshot of SOURCE into DEST, if anything changed since the last one.

    The snapshot is written as DEST/<UTC time>-partial and renamed to DEST/<UTC time>
    (e.g. 20261128T093005Z) only when complete. Unchanged files are hard links to the
    previous snapshot, so a snapshot costs only what changed. `.backupignore` files in
    SOURCE (gitignore syntax, nested ones too) and --exclude patterns leave paths out.
    Ctrl+C, SIGTERM and SIGHUP stop it cleanly (the unfinished snapshot is removed).

    \b
    Exit codes: 0 done (or nothing changed), 1 failed (or no room for it), 2 bad
    arguments, 3 SOURCE is empty or wholly ignored but the last snapshot is not (nothing
    taken), 23 some files could not be read (the snapshot holds the rest), 130/143/129
    stopped by Ctrl+C / SIGTERM / SIGHUP.

    \b
    Example:
      agsekit backup-once --source-dir ~/proj --dest-dir ~/backups-proj --exclude '*.tmp'
    """
    from agsekit.cli import output
    from agsekit.cli.signals import stops_as_interrupts
    from agsekit.cli.store_args import quiet_policies
    from agsekit.snapshots.engine.snapshot import SnapshotRequest, take_snapshot

    reporter = _reporter(quiet_info=as_json)
    request = SnapshotRequest(source_dir, dest_dir, tuple(excludes), ignore_files=ignore_files)
    # read only when a snapshot was taken or refused: a no-change run never loads the config
    policies = lambda: quiet_policies(dest_dir)  # noqa: E731
    with stops_as_interrupts():
        outcome = take_snapshot(
            request, reporter, after=_aftercare(dest_dir, reporter, policies, retention=False)
        )
    code = EXIT_INCOMPLETE if outcome.incomplete else 0
    output.earned_exit.append(code)
    if as_json:
        from agsekit.cli.render import print_json

        print_json(outcome_json(outcome))
    else:
        reporter.info(describe(outcome))
    return code


@click.command("backup-repeated")
@_source
@_dest
@_exclude
@_ignore_files
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True, max=10080),
    default=5,
    show_default=True,
    metavar="MINUTES",
    help="Minutes between snapshot checks.",
)
def backup_repeated(
    source_dir: Path,
    dest_dir: Path,
    excludes: tuple[str, ...],
    ignore_files: str,
    interval: float,
) -> int:
    """Snapshot SOURCE into DEST now, then every --interval minutes (only when something
    changed). Prints `Done, waiting N minutes` after each run. Stop with Ctrl+C.

    A failed run is reported and retried at the next interval; an empty SOURCE whose last
    snapshot is not empty is reported (with the mass-deletion alarm) and never recorded.
    Retention follows the config of the mount whose backup folder DEST is; when the config
    does not load, retention is skipped (never guessed).
    """
    from agsekit.cli.store_args import quiet_policies
    from agsekit.snapshots.engine.snapshot import SnapshotRequest, check_placement

    check_placement(source_dir, dest_dir)
    reporter = _reporter()
    request = SnapshotRequest(source_dir, dest_dir, tuple(excludes), ignore_files=ignore_files)
    return _run_jobs([_job(request, interval, reporter, quiet_policies(dest_dir))])


@click.command("backup-repeated-mount")
@click.option(
    "--mount",
    "mount_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A mount's source folder from the config (or any path inside it).",
)
@config_option
def backup_repeated_mount(mount_path: Path, config_path: str | None) -> int:
    """Repeated snapshots of one configured mount, with its backup folder, interval,
    exclude patterns and retention."""
    config = load(config_path)
    mount = mount_containing(config, mount_path)
    return _run_jobs([_mount_job(mount, _reporter(), config.alarm)])


@click.command("backup-repeated-all")
@config_option
def backup_repeated_all(config_path: str | None) -> int:
    """Repeated snapshots of every configured mount at once, in one process. Stop with
    Ctrl+C: every loop stops cleanly. A mount whose source is missing (a disk not
    mounted yet) is retried at every interval."""
    from agsekit.core.errors import UsageError

    config = load(config_path)
    if not config.mounts:
        raise UsageError(f"no mounts in {config.path}", hint="add them under 'mounts:'")
    jobs = [
        _mount_job(m, _reporter(prefix=m.source.name, progress=False), config.alarm)
        for m in config.mounts
    ]
    return _run_jobs(jobs)


@click.command("backup-repoint")
@_dest
@_source
def backup_repoint(dest_dir: Path, source_dir: Path) -> None:
    """Record that the snapshots in DEST now belong to SOURCE (after the project moved).

    A store refuses to take snapshots of another folder than the one it recorded while
    that folder still exists; when it no longer exists, the folder named on the command
    line (or by the config's mount) takes over on its own. Use this command to move a
    store to a new folder while the old one still exists.
    """
    from agsekit.core.errors import UsageError
    from agsekit.snapshots.engine.store import Store

    store = Store(dest_dir)
    if not store.exists():
        raise UsageError(f"there is no snapshot folder at {dest_dir}")
    source = source_dir.expanduser().resolve()
    if not source.is_dir():
        raise UsageError(f"{source} is not a folder")
    with store.locked():
        try:
            old = store.recorded_source()
        except Exception:
            old = None
        store.record_source(source, replace=True)
        store.log(f"re-pointed from {old} to {source}")
    click.echo(f"{store.dest} now backs up {source}" + (f" (was {old})." if old else "."))


def _aftercare(
    dest: Path, reporter: Reporter, given: Policies | Callable[[], Policies], *, retention: bool
) -> Any:
    """What runs under the store's lock after each snapshot: the alarm, then retention
    (skipped, with a warning once, when the config does not load). `given` may be a
    function: the policies are then found only when a snapshot needs them."""
    warned: list[bool] = []
    found: list[Policies] = []

    def care(outcome: SnapshotOutcome) -> None:
        from agsekit.snapshots.engine.store import Store
        from agsekit.snapshots.keep.alarm import after_snapshot

        store = Store(dest)
        if not found:
            found.append(given() if callable(given) else given)
        policies = found[0]
        if retention and policies.problem and not warned:
            warned.append(True)
            reporter.warning(policies.problem)
            store.log(policies.problem)
        keep = policies.retention if retention else None
        after_snapshot(
            store,
            outcome,
            reporter,
            alarm=policies.alarm,
            retention=keep,
            remember=policies.problem is None,
        )

    return care


def _job(
    request: SnapshotRequest, interval: float, reporter: Reporter, policies: Policies
) -> LoopJob:
    from agsekit.snapshots.engine.loop import LoopJob

    return LoopJob(
        request,
        interval,
        reporter,
        on_outcome=lambda outcome: reporter.info(describe(outcome)),
        aftercare=_aftercare(request.dest, reporter, policies, retention=True),
    )


def _mount_job(mount: Any, reporter: Reporter, alarm: Any) -> LoopJob:
    from agsekit.cli.store_args import Policies
    from agsekit.snapshots.engine.snapshot import SnapshotRequest

    request = SnapshotRequest(
        mount.source,
        mount.backup,
        config_excludes=mount.exclude,
        ignore_files=mount.ignore_files,
        reserve=mount.reserve,
    )
    return _job(request, mount.interval_minutes, reporter, Policies(mount.retention, alarm))


def _run_jobs(jobs: list[LoopJob]) -> int:
    from agsekit.cli.signals import exit_code_for_interrupt, stops_as_interrupts
    from agsekit.snapshots.engine.loop import run_loops

    stop = threading.Event()
    with stops_as_interrupts():
        try:
            errors = run_loops(jobs, stop)
        except KeyboardInterrupt:
            click.echo("\nStopped.", err=True)
            return exit_code_for_interrupt()
    return 1 if errors else 0


def _reporter(*, prefix: str | None = None, progress: bool = True, quiet_info: bool = False) -> Any:
    from agsekit.cli.render import TerminalReporter

    return TerminalReporter(prefix=prefix, progress=progress, quiet_info=quiet_info)


def describe(outcome: SnapshotOutcome) -> str:
    from agsekit.core.display import format_bytes

    if outcome.status == "refused":
        return f"No snapshot taken: {outcome.message}"
    if outcome.status == "unchanged":
        return f"No changes since snapshot {outcome.name}: no new snapshot taken."
    return (
        f"Snapshot {outcome.name}: {outcome.added} added, {outcome.modified} modified, "
        f"{outcome.deleted} deleted; {outcome.total_files} files, "
        f"{format_bytes(outcome.copied_bytes)} of new data "
        f"({outcome.linked_files} unchanged files linked)."
    )


def outcome_json(outcome: SnapshotOutcome) -> dict[str, object]:
    from agsekit.cli.history_render import path_fields

    return {
        "status": outcome.status,
        "name": outcome.name,
        "previous": outcome.previous,
        "added": outcome.added,
        "modified": outcome.modified,
        "deleted": outcome.deleted,
        "files": outcome.total_files,
        "bytes": outcome.total_bytes,
        "new_bytes": outcome.copied_bytes,
        "linked": outcome.linked_files,
        "incomplete": outcome.incomplete,
        "warnings": list(outcome.warnings),
        "newly_excluded": [path_fields(p) for p in outcome.newly_excluded],
    }
