"""backup-check: verify every snapshot against its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agsekit.cli.history_render import path_fields, show_path
from agsekit.cli.options import json_option
from agsekit.cli.store_args import resolve_store, store_options

if TYPE_CHECKING:
    from agsekit.snapshots.history.check import SnapshotCheck

SHOWN = 10


@click.command("backup-check")
@store_options
@click.option(
    "--read-data",
    is_flag=True,
    help="Also read every file and compare its content with the digest recorded when it "
    "was copied (slow: reads the whole store once).",
)
@json_option
def backup_check(
    *,
    dest_dir: Path | None,
    mount_path: Path | None,
    config_path: str | None,
    read_data: bool,
    as_json: bool,
) -> int:
    """Check every snapshot against its manifest: entries missing from disk, entries not
    recorded, and entries whose kind, mode, size, time or link target changed (a file
    edited inside the store, or a failing disk). With --read-data, also the content of
    every file. Nothing is changed.

    \b
    Exit codes: 0 every snapshot is as recorded, 1 damage was found (the damaged
    snapshots and paths are listed; the next snapshot copies damaged files again from
    the project instead of linking them).
    """
    from agsekit.cli.render import print_json
    from agsekit.snapshots.history.check import check_store

    target = resolve_store(dest_dir, mount_path, config_path)
    shown = None if as_json else _show
    results = check_store(target.store, read_data=read_data, on_snapshot=shown)
    bad = [r for r in results if not r.ok]
    if as_json:
        print_json({"ok": not bad, "snapshots": [_json(r) for r in results]})
    else:
        what = "metadata and content" if read_data else "metadata"
        verdict = f"{len(bad)} damaged" if bad else "all as recorded"
        click.echo(f"Checked the {what} of {len(results)} snapshot(s): {verdict}.")
        if bad and not read_data:
            click.echo("Run with --read-data to compare contents too.")
    return 1 if bad else 0


def _show(result: SnapshotCheck) -> None:
    if result.ok:
        click.echo(f"{result.name}  ok ({result.files} files)")
        return
    if not result.manifest_ok:
        click.echo(f"{result.name}  DAMAGED: its manifest is missing or damaged")
        return
    click.echo(f"{result.name}  DAMAGED:")
    _lines("missing", [(p, "recorded, not on disk") for p in result.missing])
    _lines("not recorded", [(p, "on disk, not in the manifest") for p in result.extra])
    _lines("changed", result.damaged)


def _lines(what: str, items: list[tuple[bytes, str]]) -> None:
    for path, why in items[:SHOWN]:
        click.echo(f"  {what}: {show_path(path)}: {why}")
    if len(items) > SHOWN:
        click.echo(f"  ... and {len(items) - SHOWN} more {what}")


def _json(result: SnapshotCheck) -> dict[str, Any]:
    return {
        "name": result.name,
        "ok": result.ok,
        "manifest": result.manifest_ok,
        "missing": [path_fields(p) for p in result.missing],
        "extra": [path_fields(p) for p in result.extra],
        "damaged": [{**path_fields(p), "problem": why} for p, why in result.damaged],
        "files": result.files,
    }
