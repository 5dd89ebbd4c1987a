"""backup-once, backup-repeated, backup-repeated-mount, backup-repeated-all."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from agsekit.cli.options import config_option, json_option, load, mount_containing

if TYPE_CHECKING:
    from agsekit.core.reporting import Reporter
    from agsekit.snapshots.engine.snapshot import SnapshotOutcome

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


@click.command("backup-once")
@_source
@_dest
@_exclude
@json_option
def backup_once(source_dir: Path, dest_dir: Path, excludes: tuple[str, ...], as_json: bool) -> int:
    """Take one snapshot of SOURCE into DEST, if anything changed since the last one.

    The snapshot is written as DEST/<UTC time>-partial and renamed to DEST/<UTC time>
    (e.g. 20261128T093005Z) only when complete. Unchanged files are hard links to the
    previous snapshot, so a snapshot costs only what changed. `.backupignore` files in
    SOURCE (gitignore syntax, nested ones too) and --exclude patterns leave paths out.

    \b
    Exit codes: 0 done (or nothing changed), 1 failed, 2 bad arguments,
    3 SOURCE is empty but the last snapshot is not (nothing taken),
    23 snapshot taken but some files could not be read.

    \b
    Example:
      agsekit backup-once --source-dir ~/proj --dest-dir ~/backups-proj --exclude '*.tmp'
    """
    from agsekit.cli.store_args import quiet_policies
    from agsekit.snapshots.engine.snapshot import SnapshotRequest, take_snapshot
    from agsekit.snapshots.engine.store import Store
    from agsekit.snapshots.keep.alarm import after_snapshot

    reporter = _reporter(quiet_info=as_json)
    request = SnapshotRequest(source_dir, dest_dir, tuple(excludes))
    outcome = take_snapshot(request, reporter)
    _retention, alarm = quiet_policies(dest_dir)
    after_snapshot(Store(dest_dir), outcome, reporter, alarm=alarm)
    if as_json:
        from agsekit.cli.render import print_json

        print_json(outcome_json(outcome))
    else:
        reporter.info(describe(outcome))
    return EXIT_INCOMPLETE if outcome.incomplete else 0


@click.command("backup-repeated")
@_source
@_dest
@_exclude
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=5,
    show_default=True,
    metavar="MINUTES",
    help="Minutes between snapshot checks.",
)
def backup_repeated(
    source_dir: Path, dest_dir: Path, excludes: tuple[str, ...], interval: float
) -> int:
    """Snapshot SOURCE into DEST now, then every --interval minutes (only when something
    changed). Prints `Done, waiting N minutes` after each run. Stop with Ctrl+C.

    A failed run is reported and retried at the next interval; an empty SOURCE whose last
    snapshot is not empty is reported and skipped, never recorded.
    """
    from agsekit.cli.store_args import quiet_policies
    from agsekit.snapshots.engine.loop import LoopJob
    from agsekit.snapshots.engine.snapshot import SnapshotRequest

    reporter = _reporter()
    retention, alarm = quiet_policies(dest_dir)
    job = LoopJob(
        SnapshotRequest(source_dir, dest_dir, tuple(excludes)),
        interval,
        reporter,
        _printer(reporter, dest_dir, retention, alarm),
    )
    return _run_jobs([job])


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
    """Repeated snapshots of one configured mount, with its backup folder and interval."""
    config = load(config_path)
    mount = mount_containing(config, mount_path)
    reporter = _reporter()
    return _run_jobs([_mount_job(mount, reporter, config.alarm)])


@click.command("backup-repeated-all")
@config_option
def backup_repeated_all(config_path: str | None) -> int:
    """Repeated snapshots of every configured mount at once, in one process. Stop with
    Ctrl+C: every loop stops cleanly and no rsync is left running."""
    from agsekit.core.errors import UsageError

    config = load(config_path)
    if not config.mounts:
        raise UsageError(f"no mounts in {config.path}", hint="add them under 'mounts:'")
    jobs = [
        _mount_job(m, _reporter(prefix=m.source.name, progress=False), config.alarm)
        for m in config.mounts
    ]
    return _run_jobs(jobs)


def _mount_job(mount: Any, reporter: Reporter, alarm: Any) -> Any:
    from agsekit.snapshots.engine.loop import LoopJob
    from agsekit.snapshots.engine.snapshot import SnapshotRequest

    request = SnapshotRequest(mount.source, mount.backup)
    on_outcome = _printer(reporter, mount.backup, mount.retention, alarm)
    return LoopJob(request, mount.interval_minutes, reporter, on_outcome)


def _run_jobs(jobs: list[Any]) -> int:
    from agsekit.snapshots.engine.loop import run_loops

    stop = threading.Event()
    with _sigterm_as_interrupt():
        try:
            errors = run_loops(jobs, stop)
        except KeyboardInterrupt:
            click.echo("\nStopped.", err=True)
            return 130
    return 1 if errors else 0


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _reporter(*, prefix: str | None = None, progress: bool = True, quiet_info: bool = False) -> Any:
    from agsekit.cli.render import TerminalReporter

    return TerminalReporter(prefix=prefix, progress=progress, quiet_info=quiet_info)


def _printer(reporter: Reporter, dest: Path, retention: Any, alarm: Any) -> Any:
    """After each run of a loop: say what happened, then the alarm check and retention."""
    from agsekit.snapshots.engine.store import Store
    from agsekit.snapshots.keep.alarm import after_snapshot

    store = Store(dest)

    def show(outcome: SnapshotOutcome) -> None:
        reporter.info(describe(outcome))
        after_snapshot(store, outcome, reporter, alarm=alarm, retention=retention)

    return show


def describe(outcome: SnapshotOutcome) -> str:
    from agsekit.cli.render import format_bytes

    if outcome.status == "unchanged":
        return f"No changes since snapshot {outcome.name}: no new snapshot taken."
    return (
        f"Snapshot {outcome.name}: {outcome.added} added, {outcome.modified} modified, "
        f"{outcome.deleted} deleted; {outcome.total_files} files, "
        f"{format_bytes(outcome.copied_bytes)} of new data "
        f"({outcome.linked_files} unchanged files linked)."
    )


def outcome_json(outcome: SnapshotOutcome) -> dict[str, object]:
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
    }
