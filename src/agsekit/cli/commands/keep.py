"""backup-pin, backup-unpin, backup-clean: which snapshots are kept."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from agsekit.cli import completion
from agsekit.cli.history_render import iso_local, snapshot_time, when
from agsekit.cli.options import json_option
from agsekit.cli.store_args import resolve_store, store_options


@click.command("backup-pin")
@click.argument("name", shell_complete=completion.snapshots)
@store_options
@click.option("--label", metavar="TEXT", help="A note shown by backup-list.")
def backup_pin(
    name: str,
    dest_dir: Path | None,
    mount_path: Path | None,
    config_path: str | None,
    label: str | None,
) -> None:
    """Pin snapshot NAME (or `latest`): retention never removes a pinned snapshot."""
    _set_pin(name, dest_dir, mount_path, config_path, pinned=True, label=label)


@click.command("backup-unpin")
@click.argument("name", shell_complete=completion.snapshots)
@store_options
def backup_unpin(
    name: str, dest_dir: Path | None, mount_path: Path | None, config_path: str | None
) -> None:
    """Unpin snapshot NAME: retention may remove it again (its label stays)."""
    _set_pin(name, dest_dir, mount_path, config_path, pinned=False, label=None)


def _set_pin(
    name: str,
    dest_dir: Path | None,
    mount_path: Path | None,
    config_path: str | None,
    *,
    pinned: bool,
    label: str | None,
) -> None:
    from agsekit.snapshots.engine.snapshot import lock_wait_message
    from agsekit.snapshots.history.catalog import resolve_name
    from agsekit.snapshots.keep.marks import set_mark

    store = resolve_store(dest_dir, mount_path, config_path).store
    resolved = resolve_name(store, name)
    with store.locked(on_wait=lambda: click.echo(lock_wait_message(store), err=True)):
        mark = set_mark(store, resolved, pinned=pinned, label=label)
    store.log(f"{'pinned' if pinned else 'unpinned'} {resolved}")
    state = "Pinned" if pinned else "Unpinned"
    note = f" (label: {mark.label})" if mark.label else ""
    tail = "retention will keep it." if pinned else "retention may remove it."
    click.echo(f"{state} {resolved}{note}; {tail}")


@click.command("backup-clean")
@store_options
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@json_option
def backup_clean(
    dest_dir: Path | None,
    mount_path: Path | None,
    config_path: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Apply the retention policy: keep what it selects (every snapshot younger than
    keep_within, the newest of each of the last N hours / days / weeks / months), the
    newest snapshot and pinned ones; remove the rest. The policy is the mount's (--mount),
    else the config's top-level `retention:`, else the defaults."""
    from agsekit.cli.render import TerminalReporter, print_json
    from agsekit.core.errors import UsageError
    from agsekit.snapshots.keep.cleanup import clean_store, plan_clean

    target = resolve_store(dest_dir, mount_path, config_path)
    policies = target.policies()
    retention = policies.retention
    if retention is None:
        raise UsageError(policies.problem or "the config does not load: not cleaning")
    if dry_run:
        decisions = plan_clean(target.store, retention)
    else:
        decisions = clean_store(target.store, retention, TerminalReporter())
    if as_json:
        print_json(
            [
                {
                    "name": d.name,
                    "time": iso_local(snapshot_time(d.name)),
                    "keep": d.keep,
                    "reasons": list(d.reasons),
                }
                for d in decisions
            ]
        )
        return
    now = datetime.now(timezone.utc)
    verb = "would remove" if dry_run else "removed"
    for d in decisions:
        action = "keep  " if d.keep else verb
        why = f"  ({', '.join(d.reasons)})" if d.keep else ""
        click.echo(f"{action}  {d.name}  {when(snapshot_time(d.name), now)}{why}")
    removed = sum(1 for d in decisions if not d.keep)
    kept = len(decisions) - removed
    suffix = " (dry run: nothing was removed)" if dry_run else ""
    click.echo(f"Kept {kept}, {verb} {removed}.{suffix}")
