"""Running and reporting restores, shared by backup-restore and backup-history --restore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from agsekit.cli.history_render import show_path
from agsekit.cli.signals import stops_as_interrupts

if TYPE_CHECKING:
    from agsekit.cli.store_args import StoreTarget
    from agsekit.snapshots.engine.snapshot import SnapshotOutcome
    from agsekit.snapshots.restore.plan import RestorePlan, Wanted
    from agsekit.snapshots.restore.run import RestoreRun

SHOWN_PER_KIND = 100
SHOWN_KEPT = 10


def run_in_place(
    target: StoreTarget,
    wanted: list[Wanted],
    source: Path,
    *,
    delete: bool,
    dry_run: bool,
) -> None:
    """An in-place restore: plan, safety snapshot (pinned), apply, report. The undo
    command is printed as soon as the safety snapshot exists, and again, with a warning
    that the folder is partly restored, if the restore then fails or is stopped."""
    from agsekit.cli.render import TerminalReporter
    from agsekit.snapshots.keep.alarm import after_snapshot
    from agsekit.snapshots.restore.run import restore_in_place

    reporter = TerminalReporter()
    announced: list[RestoreRun] = []

    def alarm_check(outcome: SnapshotOutcome) -> None:
        policies = target.policies()
        after_snapshot(
            target.store,
            outcome,
            reporter,
            alarm=policies.alarm,
            remember=policies.problem is None,
        )

    def on_safety(run: RestoreRun) -> None:
        announced.append(run)
        _report_safety(run, target)

    try:
        with stops_as_interrupts():
            run = restore_in_place(
                target.store,
                wanted,
                source,
                reporter,
                delete=delete,
                dry_run=dry_run,
                after=alarm_check,
                on_safety=on_safety,
            )
    except BaseException:
        if announced:
            _report_partial(announced[0], target)
        raise
    report(run, source, target)


def _undo_command(run: RestoreRun, target: StoreTarget) -> str | None:
    from agsekit.snapshots.keep.alarm import restore_command

    if run.safety is None or run.safety.name is None:
        return None
    return restore_command(target.store, "--snapshot", run.safety.name, delete=True)


def _report_safety(run: RestoreRun, target: StoreTarget) -> None:
    from agsekit.core.display import shell_join

    safety = run.safety
    if safety is None:
        return
    if safety.name is None:
        click.echo(
            "The restore overwrites and removes nothing (it only creates), so no safety "
            "snapshot was needed."
        )
        return
    if safety.created:
        click.echo(f"Saved the state before the restore as snapshot {safety.name}.")
    else:
        click.echo(
            f"Nothing had changed since snapshot {safety.name}: it holds the state before "
            "the restore."
        )
    unpin = shell_join(
        ["agsekit", "backup-unpin", safety.name, "--dest-dir", str(target.store.dest)]
    )
    click.echo(
        f"To undo this restore:\n  {_undo_command(run, target)}\n"
        f"(snapshot {safety.name} is pinned: it is kept until you unpin it with `{unpin}`)"
    )
    if run.unsaved:
        _list_reasons(
            "left alone (they could not be saved first)",
            [(p, "not saved") for p in run.unsaved],
        )


def _report_partial(run: RestoreRun, target: StoreTarget) -> None:
    undo = _undo_command(run, target)
    click.echo(
        "The restore did not finish: the folder is partly restored."
        + (f" To go back to the state before it:\n  {undo}" if undo else ""),
        err=True,
    )


def report(run: RestoreRun, folder: Path, target: StoreTarget) -> None:
    plan = run.plan
    name = plan.snapshot if len(plan.snapshots) == 1 else ", ".join(plan.snapshots)
    if run.result is None:
        _report_dry_run(plan, name, folder)
        return
    result = run.result
    click.echo(
        f"Restored {name} into {show_path(str(folder).encode())}: {result.files} file(s), "
        f"{result.links} symlink(s), {result.folders} new folder(s); {result.deleted} removed; "
        f"{plan.unchanged} already matched."
    )
    hidden = set(run.safety.hidden) if run.safety is not None else set()
    replaced = [p for p in plan.delete + plan.overwrite if p in hidden]
    if replaced:
        _list(
            "removed or overwrote, although only the live ignore rules hid them "
            "(the safety snapshot holds them)",
            replaced,
        )
    left = {path for path, _reason in result.left_alone}
    special = [p for p in plan.special if p not in left]
    if special:
        _list(
            "replaced that were FIFOs, sockets or devices (they hold no content; no "
            "snapshot, and so no undo, brings them back)",
            special,
        )
    _list_reasons("left alone", plan.skipped + result.left_alone)
    _mention_kept(plan)


def _report_dry_run(plan: RestorePlan, name: str, folder: Path) -> None:
    click.echo(f"Dry run: restoring {name} into {show_path(str(folder).encode())} would")
    _list_each("create", plan.create)
    _list_each("overwrite", plan.overwrite)
    _list_each("delete", plan.delete)
    if not plan.changes:
        click.echo("  change nothing: it already matches the snapshot")
    _list_reasons("leave alone", plan.skipped)
    _mention_kept(plan)
    click.echo("Nothing was changed.")


def _list_each(verb: str, paths: list[bytes]) -> None:
    for path in paths[:SHOWN_PER_KIND]:
        click.echo(f"  {verb} {show_path(path)}")
    if len(paths) > SHOWN_PER_KIND:
        click.echo(f"  ... and {len(paths) - SHOWN_PER_KIND} more to {verb}")


def _list(what: str, paths: list[bytes]) -> None:
    shown = ", ".join(show_path(p) for p in paths[:SHOWN_KEPT])
    more = f" and {len(paths) - SHOWN_KEPT} more" if len(paths) > SHOWN_KEPT else ""
    click.echo(f"{len(paths)} path(s) {what}: {shown}{more}")


def _list_reasons(what: str, items: list[tuple[bytes, str]]) -> None:
    if not items:
        return
    click.echo(f"{len(items)} path(s) {what}:")
    for path, reason in items[:SHOWN_PER_KIND]:
        click.echo(f"  {show_path(path)}: {reason}")
    if len(items) > SHOWN_PER_KIND:
        click.echo(f"  ... and {len(items) - SHOWN_PER_KIND} more")


def _mention_kept(plan: RestorePlan) -> None:
    if plan.kept:
        _list("kept that the snapshot does not hold; add --delete to remove them", plan.kept)
    if plan.kept_ignored:
        _list(
            "kept because the snapshot's ignore rules leave them out (never removed)",
            plan.kept_ignored,
        )
